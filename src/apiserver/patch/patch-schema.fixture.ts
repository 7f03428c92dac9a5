/**
 * Test-only: a small hand-written schema table with the real upstream type names and patch metadata
 * (struct tags of k8s.io/api core/v1, apps/v1 and apimachinery meta/v1) for the types the patch tests
 * touch, so the engine's tests do not depend on the generated table.
 */
import type { FieldDef, SchemaTable, SchemaType } from '../../api/schema/types.js';
import { patchSchemaFromTable } from './patch-schema.js';

const str: SchemaType = { kind: 'scalar', scalar: 'string' };
const int32: SchemaType = { kind: 'scalar', scalar: 'int32' };
const bool: SchemaType = { kind: 'scalar', scalar: 'boolean' };
const quantity: SchemaType = { kind: 'scalar', scalar: 'quantity' };
const intOrString: SchemaType = { kind: 'scalar', scalar: 'intOrString' };
const ref = (name: string): SchemaType => ({ kind: 'ref', name });
const list = (items: SchemaType): SchemaType => ({ kind: 'array', items });
const map = (values: SchemaType): SchemaType => ({ kind: 'map', values });

const core = (name: string): string => `io.k8s.api.core.v1.${name}`;
const apps = (name: string): string => `io.k8s.api.apps.v1.${name}`;
const meta = (name: string): string => `io.k8s.apimachinery.pkg.apis.meta.v1.${name}`;

const types: Record<string, FieldDef[]> = {
  [core('Pod')]: [
    { json: 'apiVersion', type: str },
    { json: 'kind', type: str },
    { json: 'metadata', type: ref(meta('ObjectMeta')) },
    { json: 'spec', type: ref(core('PodSpec')) },
    { json: 'status', type: ref(core('PodStatus')) },
  ],
  [meta('ObjectMeta')]: [
    { json: 'name', type: str },
    { json: 'namespace', type: str },
    { json: 'resourceVersion', type: str },
    { json: 'labels', type: map(str) },
    { json: 'annotations', type: map(str) },
    { json: 'ownerReferences', type: list(ref(meta('OwnerReference'))), patchStrategy: 'merge', patchMergeKey: 'uid' },
    { json: 'finalizers', type: list(str), patchStrategy: 'merge' },
  ],
  [meta('OwnerReference')]: [
    { json: 'apiVersion', type: str },
    { json: 'kind', type: str },
    { json: 'name', type: str },
    { json: 'uid', type: str },
    { json: 'controller', type: bool },
  ],
  [core('PodSpec')]: [
    { json: 'volumes', type: list(ref(core('Volume'))), patchStrategy: 'merge,retainKeys', patchMergeKey: 'name' },
    { json: 'initContainers', type: list(ref(core('Container'))), patchStrategy: 'merge', patchMergeKey: 'name' },
    { json: 'containers', type: list(ref(core('Container'))), patchStrategy: 'merge', patchMergeKey: 'name' },
    { json: 'nodeSelector', type: map(str) },
    { json: 'tolerations', type: list(ref(core('Toleration'))) },
    { json: 'imagePullSecrets', type: list(ref(core('LocalObjectReference'))), patchStrategy: 'merge', patchMergeKey: 'name' },
    { json: 'restartPolicy', type: str },
  ],
  [core('Container')]: [
    { json: 'name', type: str },
    { json: 'image', type: str },
    { json: 'command', type: list(str) },
    { json: 'args', type: list(str) },
    { json: 'ports', type: list(ref(core('ContainerPort'))), patchStrategy: 'merge', patchMergeKey: 'containerPort' },
    { json: 'env', type: list(ref(core('EnvVar'))), patchStrategy: 'merge', patchMergeKey: 'name' },
    { json: 'resources', type: ref(core('ResourceRequirements')) },
    { json: 'volumeMounts', type: list(ref(core('VolumeMount'))), patchStrategy: 'merge', patchMergeKey: 'mountPath' },
  ],
  [core('ContainerPort')]: [
    { json: 'name', type: str },
    { json: 'containerPort', type: int32 },
    { json: 'protocol', type: str },
  ],
  [core('EnvVar')]: [
    { json: 'name', type: str },
    { json: 'value', type: str },
  ],
  [core('ResourceRequirements')]: [
    { json: 'limits', type: map(quantity) },
    { json: 'requests', type: map(quantity) },
  ],
  [core('VolumeMount')]: [
    { json: 'name', type: str },
    { json: 'mountPath', type: str },
  ],
  // VolumeSource is inlined into Volume, so its members are Volume's own fields.
  [core('Volume')]: [
    { json: 'name', type: str },
    { json: 'emptyDir', type: ref(core('EmptyDirVolumeSource')) },
    { json: 'configMap', type: ref(core('ConfigMapVolumeSource')) },
  ],
  [core('EmptyDirVolumeSource')]: [
    { json: 'medium', type: str },
    { json: 'sizeLimit', type: quantity },
  ],
  [core('ConfigMapVolumeSource')]: [
    { json: 'name', type: str },
    { json: 'defaultMode', type: int32 },
  ],
  [core('Toleration')]: [
    { json: 'key', type: str },
    { json: 'operator', type: str },
    { json: 'value', type: str },
    { json: 'effect', type: str },
  ],
  [core('LocalObjectReference')]: [{ json: 'name', type: str }],
  [core('PodStatus')]: [
    { json: 'phase', type: str },
    { json: 'conditions', type: list(ref(core('PodCondition'))), patchStrategy: 'merge', patchMergeKey: 'type' },
  ],
  [core('PodCondition')]: [
    { json: 'type', type: str },
    { json: 'status', type: str },
  ],
  [core('PodTemplateSpec')]: [
    { json: 'metadata', type: ref(meta('ObjectMeta')) },
    { json: 'spec', type: ref(core('PodSpec')) },
  ],
  [apps('Deployment')]: [
    { json: 'apiVersion', type: str },
    { json: 'kind', type: str },
    { json: 'metadata', type: ref(meta('ObjectMeta')) },
    { json: 'spec', type: ref(apps('DeploymentSpec')) },
  ],
  [apps('DeploymentSpec')]: [
    { json: 'replicas', type: int32 },
    { json: 'selector', type: ref(meta('LabelSelector')) },
    { json: 'template', type: ref(core('PodTemplateSpec')) },
    { json: 'strategy', type: ref(apps('DeploymentStrategy')), patchStrategy: 'retainKeys' },
  ],
  [apps('DeploymentStrategy')]: [
    { json: 'type', type: str },
    { json: 'rollingUpdate', type: ref(apps('RollingUpdateDeployment')) },
  ],
  [apps('RollingUpdateDeployment')]: [
    { json: 'maxUnavailable', type: intOrString },
    { json: 'maxSurge', type: intOrString },
  ],
  [meta('LabelSelector')]: [
    { json: 'matchLabels', type: map(str) },
    { json: 'matchExpressions', type: list(ref(meta('LabelSelectorRequirement'))) },
  ],
  [meta('LabelSelectorRequirement')]: [
    { json: 'key', type: str },
    { json: 'operator', type: str },
    { json: 'values', type: list(str) },
  ],
};

export const fixtureTable: SchemaTable = Object.fromEntries(Object.entries(types).map(([name, fields]) => [name, { name, fields }]));

export const fixturePatchSchema = patchSchemaFromTable(fixtureTable);

export const POD = core('Pod');
export const DEPLOYMENT = apps('Deployment');
