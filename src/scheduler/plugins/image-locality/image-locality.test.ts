import assert from 'node:assert/strict';
import { it } from 'node:test';
import { frameworkFor, makeNode, makePod, scoreNodes, snapshotOf } from '../../testing/wrappers.js';

const mb = 1024 * 1024;

it('ImageLocality: prefers nodes with big images, scaled by how many nodes have them', () => {
  const snap = snapshotOf([
    makeNode('has-big', { images: [{ names: ['registry.example/app:v1'], sizeBytes: 500 * mb }] }),
    makeNode('has-small', { images: [{ names: ['registry.example/app:v1'], sizeBytes: 500 * mb }, { names: ['busybox:latest', 'docker.io/library/busybox@sha256:abc'], sizeBytes: 2 * mb }] }),
    makeNode('empty'),
    makeNode('also-empty'),
  ]);
  const fwk = frameworkFor(['ImageLocality'], snap);
  const score = (image: string) => Object.fromEntries([...scoreNodes(fwk, makePod('p', { image }))].map(([n, s]) => [n, s.ImageLocality]));
  // app:v1 is on 2 of 4 nodes: 500MB * 2/4 = 250MB -> 100 * (250MB - 23MB) / (1000MB - 23MB) = 23.
  assert.deepEqual(score('registry.example/app:v1'), { 'has-big': 23, 'has-small': 23, empty: 0, 'also-empty': 0 });
  // Under the 23MB threshold scores nothing; an untagged image name means :latest.
  assert.deepEqual(score('busybox'), { 'has-big': 0, 'has-small': 0, empty: 0, 'also-empty': 0 });
});
