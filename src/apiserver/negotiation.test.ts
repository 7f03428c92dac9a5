import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStatusError } from '../api/status.js';
import { negotiateOutput, outputContentType, parseAcceptClauses } from './negotiation.js';

const builtin = { protobuf: true };
const custom = { protobuf: false };
const POM_LIST = 'as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

function refused(accept: string, offers = builtin, stream = false): string {
  try {
    negotiateOutput(accept, { ...offers, stream });
  } catch (err) {
    assert.ok(isStatusError(err));
    assert.equal(err.code, 406);
    assert.equal(err.reason, 'NotAcceptable');
    return err.message;
  }
  assert.fail(`${accept} was accepted`);
}

describe('negotiateOutput', () => {
  it('no Accept, an empty one or a wildcard: JSON', () => {
    for (const a of [undefined, '', '*/*', 'application/*', 'application/json, */*']) assert.deepEqual(negotiateOutput(a, builtin), { format: 'json', convert: undefined, pretty: false });
  });

  it("client-go's metadata informer: protobuf PartialObjectMetadataList first, JSON of it next, plain JSON last", () => {
    const accept = `application/vnd.kubernetes.protobuf;${POM_LIST},application/json;${POM_LIST},application/json`;
    assert.deepEqual(negotiateOutput(accept, builtin), { format: 'protobuf', convert: { kind: 'PartialObjectMetadataList', version: 'v1' }, pretty: false });
    // Custom resources have no protobuf of their own, but their metadata has one.
    assert.equal(negotiateOutput(accept, custom).format, 'protobuf');
  });

  it('protobuf for built-in kinds; for custom resources the next clause, or 406 when none remains', () => {
    assert.equal(negotiateOutput('application/vnd.kubernetes.protobuf,application/json', builtin).format, 'protobuf');
    assert.equal(negotiateOutput('application/vnd.kubernetes.protobuf,application/json', custom).format, 'json');
    assert.equal(refused('application/vnd.kubernetes.protobuf', custom), 'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf');
  });

  it('q values order the clauses; q=0 refuses', () => {
    assert.deepEqual(negotiateOutput('application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io', builtin).convert, { kind: 'Table', version: 'v1' });
    assert.equal(negotiateOutput('application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5, application/json;q=0.9', builtin).convert, undefined);
    assert.equal(negotiateOutput('*/*;q=0.8, application/yaml', builtin).format, 'yaml');
    refused('application/json;q=0');
  });

  it('Tables only in JSON or YAML; unknown conversions and groups are skipped', () => {
    assert.equal(negotiateOutput('application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io, application/json', builtin).convert, undefined);
    assert.deepEqual(negotiateOutput('application/json;as=Table;v=v1beta1;g=meta.k8s.io', builtin).convert, { kind: 'Table', version: 'v1beta1' });
    refused('application/json;as=Table;v=v2;g=meta.k8s.io');
    refused('application/json;as=Deployment;v=v1;g=apps');
    refused('application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io');
    refused('application/xml');
    refused('text/html');
  });

  it('watches offer no YAML', () => {
    assert.equal(refused('application/yaml', builtin, true), 'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf');
    assert.equal(negotiateOutput('application/yaml, application/json', { ...builtin, stream: true }).format, 'json');
  });

  it('content types name the conversion; protobuf watches say stream=watch', () => {
    const out = negotiateOutput(`application/vnd.kubernetes.protobuf;${POM_LIST}`, builtin);
    assert.equal(outputContentType(out), 'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io');
    assert.equal(outputContentType(negotiateOutput('application/vnd.kubernetes.protobuf', builtin), true), 'application/vnd.kubernetes.protobuf;stream=watch');
  });

  it('parseAcceptClauses: concrete types before wildcards at equal q, order kept otherwise', () => {
    assert.deepEqual(parseAcceptClauses('*/*, application/yaml, application/json').map((c) => c.type), ['application/yaml', 'application/json', '*/*']);
  });
});
