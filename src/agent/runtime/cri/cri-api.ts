/**
 * The CRI v1 messages skiff uses, written as data from the published API's field numbers (k8s.io/cri-api,
 * pkg/apis/runtime/v1/api.proto) and turned into protobufjs Types by reflection, so no .proto file is vendored.
 * Only the fields skiff reads or writes are declared: protobuf skips unknown fields on decode, so a newer runtime's
 * extra fields are harmless. Enums travel as int32 (the same varint on the wire); their values are the constants below.
 */
import protobuf from 'protobufjs';

/** [field name (camelCase, ours), field number (upstream), type, 'repeated' | 'map' (map<string,string>)] */
type FieldSpec = readonly [string, number, string, ('repeated' | 'map')?];

const MESSAGES: Record<string, readonly FieldSpec[]> = {
  VersionRequest: [['version', 1, 'string']],
  VersionResponse: [['version', 1, 'string'], ['runtimeName', 2, 'string'], ['runtimeVersion', 3, 'string'], ['runtimeApiVersion', 4, 'string']],
  DNSConfig: [['servers', 1, 'string', 'repeated'], ['searches', 2, 'string', 'repeated'], ['options', 3, 'string', 'repeated']],
  PortMapping: [['protocol', 1, 'int32'], ['containerPort', 2, 'int32'], ['hostPort', 3, 'int32'], ['hostIp', 4, 'string']],
  Mount: [['containerPath', 1, 'string'], ['hostPath', 2, 'string'], ['readonly', 3, 'bool'], ['selinuxRelabel', 4, 'bool'], ['propagation', 5, 'int32']],
  NamespaceOption: [['network', 1, 'int32'], ['pid', 2, 'int32'], ['ipc', 3, 'int32'], ['targetId', 4, 'string']],
  Int64Value: [['value', 1, 'int64']],
  UInt64Value: [['value', 1, 'uint64']],
  LinuxSandboxSecurityContext: [
    ['namespaceOptions', 1, 'NamespaceOption'],
    ['runAsUser', 3, 'Int64Value'],
    ['readonlyRootfs', 4, 'bool'],
    ['supplementalGroups', 5, 'int64', 'repeated'],
    ['privileged', 6, 'bool'],
    ['runAsGroup', 8, 'Int64Value'],
  ],
  LinuxPodSandboxConfig: [
    ['cgroupParent', 1, 'string'],
    ['securityContext', 2, 'LinuxSandboxSecurityContext'],
    ['sysctls', 3, 'string', 'map'],
    ['overhead', 4, 'LinuxContainerResources'],
    ['resources', 5, 'LinuxContainerResources'],
  ],
  PodSandboxMetadata: [['name', 1, 'string'], ['uid', 2, 'string'], ['namespace', 3, 'string'], ['attempt', 4, 'uint32']],
  PodSandboxConfig: [
    ['metadata', 1, 'PodSandboxMetadata'],
    ['hostname', 2, 'string'],
    ['logDirectory', 3, 'string'],
    ['dnsConfig', 4, 'DNSConfig'],
    ['portMappings', 5, 'PortMapping', 'repeated'],
    ['labels', 6, 'string', 'map'],
    ['annotations', 7, 'string', 'map'],
    ['linux', 8, 'LinuxPodSandboxConfig'],
  ],
  RunPodSandboxRequest: [['config', 1, 'PodSandboxConfig'], ['runtimeHandler', 2, 'string']],
  RunPodSandboxResponse: [['podSandboxId', 1, 'string']],
  PodSandboxIdRequest: [['podSandboxId', 1, 'string']],
  Empty: [],
  PodSandboxStatusRequest: [['podSandboxId', 1, 'string'], ['verbose', 2, 'bool']],
  PodIP: [['ip', 1, 'string']],
  PodSandboxNetworkStatus: [['ip', 1, 'string'], ['additionalIps', 2, 'PodIP', 'repeated']],
  Namespace: [['options', 2, 'NamespaceOption']],
  LinuxPodSandboxStatus: [['namespaces', 1, 'Namespace']],
  PodSandboxStatus: [
    ['id', 1, 'string'],
    ['metadata', 2, 'PodSandboxMetadata'],
    ['state', 3, 'int32'],
    ['createdAt', 4, 'int64'],
    ['network', 5, 'PodSandboxNetworkStatus'],
    ['linux', 6, 'LinuxPodSandboxStatus'],
    ['labels', 7, 'string', 'map'],
    ['annotations', 8, 'string', 'map'],
    ['runtimeHandler', 9, 'string'],
  ],
  PodSandboxStatusResponse: [['status', 1, 'PodSandboxStatus'], ['info', 2, 'string', 'map']],
  PodSandboxStateValue: [['state', 1, 'int32']],
  PodSandboxFilter: [['id', 1, 'string'], ['state', 2, 'PodSandboxStateValue'], ['labelSelector', 3, 'string', 'map']],
  ListPodSandboxRequest: [['filter', 1, 'PodSandboxFilter']],
  PodSandbox: [
    ['id', 1, 'string'],
    ['metadata', 2, 'PodSandboxMetadata'],
    ['state', 3, 'int32'],
    ['createdAt', 4, 'int64'],
    ['labels', 5, 'string', 'map'],
    ['annotations', 6, 'string', 'map'],
    ['runtimeHandler', 7, 'string'],
  ],
  ListPodSandboxResponse: [['items', 1, 'PodSandbox', 'repeated']],
  PodSandboxStatsResponse: [['stats', 1, 'PodSandboxStats']],
  PodSandboxAttributes: [['id', 1, 'string'], ['metadata', 2, 'PodSandboxMetadata'], ['labels', 3, 'string', 'map'], ['annotations', 4, 'string', 'map']],
  PodSandboxStats: [['attributes', 1, 'PodSandboxAttributes'], ['linux', 2, 'LinuxPodSandboxStats']],
  LinuxPodSandboxStats: [['cpu', 1, 'CpuUsage'], ['memory', 2, 'MemoryUsage'], ['process', 4, 'ProcessUsage'], ['containers', 5, 'ContainerStats', 'repeated']],
  ProcessUsage: [['timestamp', 1, 'int64'], ['processCount', 2, 'UInt64Value']],
  ImageSpec: [['image', 1, 'string'], ['annotations', 2, 'string', 'map']],
  KeyValue: [['key', 1, 'string'], ['value', 2, 'string']],
  LinuxContainerResources: [
    ['cpuPeriod', 1, 'int64'],
    ['cpuQuota', 2, 'int64'],
    ['cpuShares', 3, 'int64'],
    ['memoryLimitInBytes', 4, 'int64'],
    ['oomScoreAdj', 5, 'int64'],
    ['cpusetCpus', 6, 'string'],
    ['cpusetMems', 7, 'string'],
    ['unified', 9, 'string', 'map'],
  ],
  Capability: [['addCapabilities', 1, 'string', 'repeated'], ['dropCapabilities', 2, 'string', 'repeated']],
  LinuxContainerSecurityContext: [
    ['capabilities', 1, 'Capability'],
    ['privileged', 2, 'bool'],
    ['namespaceOptions', 3, 'NamespaceOption'],
    ['runAsUser', 5, 'Int64Value'],
    ['runAsUsername', 6, 'string'],
    ['readonlyRootfs', 7, 'bool'],
    ['supplementalGroups', 8, 'int64', 'repeated'],
    ['noNewPrivs', 11, 'bool'],
    ['runAsGroup', 12, 'Int64Value'],
  ],
  LinuxContainerConfig: [['resources', 1, 'LinuxContainerResources'], ['securityContext', 2, 'LinuxContainerSecurityContext']],
  ContainerMetadata: [['name', 1, 'string'], ['attempt', 2, 'uint32']],
  Device: [['containerPath', 1, 'string'], ['hostPath', 2, 'string'], ['permissions', 3, 'string']],
  ContainerConfig: [
    ['metadata', 1, 'ContainerMetadata'],
    ['image', 2, 'ImageSpec'],
    ['command', 3, 'string', 'repeated'],
    ['args', 4, 'string', 'repeated'],
    ['workingDir', 5, 'string'],
    ['envs', 6, 'KeyValue', 'repeated'],
    ['mounts', 7, 'Mount', 'repeated'],
    ['devices', 8, 'Device', 'repeated'],
    ['labels', 9, 'string', 'map'],
    ['annotations', 10, 'string', 'map'],
    ['logPath', 11, 'string'],
    ['stdin', 12, 'bool'],
    ['stdinOnce', 13, 'bool'],
    ['tty', 14, 'bool'],
    ['linux', 15, 'LinuxContainerConfig'],
  ],
  CreateContainerRequest: [['podSandboxId', 1, 'string'], ['config', 2, 'ContainerConfig'], ['sandboxConfig', 3, 'PodSandboxConfig']],
  CreateContainerResponse: [['containerId', 1, 'string']],
  ContainerIdRequest: [['containerId', 1, 'string']],
  StopContainerRequest: [['containerId', 1, 'string'], ['timeout', 2, 'int64']],
  ContainerStateValue: [['state', 1, 'int32']],
  ContainerFilter: [['id', 1, 'string'], ['state', 2, 'ContainerStateValue'], ['podSandboxId', 3, 'string'], ['labelSelector', 4, 'string', 'map']],
  ListContainersRequest: [['filter', 1, 'ContainerFilter']],
  Container: [
    ['id', 1, 'string'],
    ['podSandboxId', 2, 'string'],
    ['metadata', 3, 'ContainerMetadata'],
    ['image', 4, 'ImageSpec'],
    ['imageRef', 5, 'string'],
    ['state', 6, 'int32'],
    ['createdAt', 7, 'int64'],
    ['labels', 8, 'string', 'map'],
    ['annotations', 9, 'string', 'map'],
  ],
  ListContainersResponse: [['containers', 1, 'Container', 'repeated']],
  ContainerStatusRequest: [['containerId', 1, 'string'], ['verbose', 2, 'bool']],
  ContainerStatus: [
    ['id', 1, 'string'],
    ['metadata', 2, 'ContainerMetadata'],
    ['state', 3, 'int32'],
    ['createdAt', 4, 'int64'],
    ['startedAt', 5, 'int64'],
    ['finishedAt', 6, 'int64'],
    ['exitCode', 7, 'int32'],
    ['image', 8, 'ImageSpec'],
    ['imageRef', 9, 'string'],
    ['reason', 10, 'string'],
    ['message', 11, 'string'],
    ['labels', 12, 'string', 'map'],
    ['annotations', 13, 'string', 'map'],
    ['mounts', 14, 'Mount', 'repeated'],
    ['logPath', 15, 'string'],
  ],
  ContainerStatusResponse: [['status', 1, 'ContainerStatus'], ['info', 2, 'string', 'map']],
  ExecSyncRequest: [['containerId', 1, 'string'], ['cmd', 2, 'string', 'repeated'], ['timeout', 3, 'int64']],
  ExecSyncResponse: [['stdout', 1, 'bytes'], ['stderr', 2, 'bytes'], ['exitCode', 3, 'int32']],
  ExecRequest: [['containerId', 1, 'string'], ['cmd', 2, 'string', 'repeated'], ['tty', 3, 'bool'], ['stdin', 4, 'bool'], ['stdout', 5, 'bool'], ['stderr', 6, 'bool']],
  AttachRequest: [['containerId', 1, 'string'], ['stdin', 2, 'bool'], ['tty', 3, 'bool'], ['stdout', 4, 'bool'], ['stderr', 5, 'bool']],
  PortForwardRequest: [['podSandboxId', 1, 'string'], ['port', 2, 'int32', 'repeated']],
  UrlResponse: [['url', 1, 'string']],
  ImageFilter: [['image', 1, 'ImageSpec']],
  ListImagesRequest: [['filter', 1, 'ImageFilter']],
  Image: [
    ['id', 1, 'string'],
    ['repoTags', 2, 'string', 'repeated'],
    ['repoDigests', 3, 'string', 'repeated'],
    ['size', 4, 'uint64'],
    ['uid', 5, 'Int64Value'],
    ['username', 6, 'string'],
    ['spec', 7, 'ImageSpec'],
    ['pinned', 8, 'bool'],
  ],
  ListImagesResponse: [['images', 1, 'Image', 'repeated']],
  ImageStatusRequest: [['image', 1, 'ImageSpec'], ['verbose', 2, 'bool']],
  ImageStatusResponse: [['image', 1, 'Image'], ['info', 2, 'string', 'map']],
  AuthConfig: [
    ['username', 1, 'string'],
    ['password', 2, 'string'],
    ['auth', 3, 'string'],
    ['serverAddress', 4, 'string'],
    ['identityToken', 5, 'string'],
    ['registryToken', 6, 'string'],
  ],
  PullImageRequest: [['image', 1, 'ImageSpec'], ['auth', 2, 'AuthConfig'], ['sandboxConfig', 3, 'PodSandboxConfig']],
  PullImageResponse: [['imageRef', 1, 'string']],
  RemoveImageRequest: [['image', 1, 'ImageSpec']],
  RuntimeCondition: [['type', 1, 'string'], ['status', 2, 'bool'], ['reason', 3, 'string'], ['message', 4, 'string']],
  RuntimeStatus: [['conditions', 1, 'RuntimeCondition', 'repeated']],
  StatusRequest: [['verbose', 1, 'bool']],
  StatusResponse: [['status', 1, 'RuntimeStatus'], ['info', 2, 'string', 'map']],
  FilesystemIdentifier: [['mountpoint', 1, 'string']],
  FilesystemUsage: [['timestamp', 1, 'int64'], ['fsId', 2, 'FilesystemIdentifier'], ['usedBytes', 3, 'UInt64Value'], ['inodesUsed', 4, 'UInt64Value']],
  ContainerStatsResponse: [['stats', 1, 'ContainerStats']],
  ContainerAttributes: [['id', 1, 'string'], ['metadata', 2, 'ContainerMetadata'], ['labels', 3, 'string', 'map'], ['annotations', 4, 'string', 'map']],
  ContainerStats: [['attributes', 1, 'ContainerAttributes'], ['cpu', 2, 'CpuUsage'], ['memory', 3, 'MemoryUsage'], ['writableLayer', 4, 'FilesystemUsage']],
  CpuUsage: [['timestamp', 1, 'int64'], ['usageCoreNanoSeconds', 2, 'UInt64Value'], ['usageNanoCores', 3, 'UInt64Value']],
  MemoryUsage: [
    ['timestamp', 1, 'int64'],
    ['workingSetBytes', 2, 'UInt64Value'],
    ['availableBytes', 3, 'UInt64Value'],
    ['usageBytes', 4, 'UInt64Value'],
    ['rssBytes', 5, 'UInt64Value'],
    ['pageFaults', 6, 'UInt64Value'],
    ['majorPageFaults', 7, 'UInt64Value'],
  ],
};

/** Upstream enum values (api.proto), sent as int32. */
export const Protocol = { TCP: 0, UDP: 1, SCTP: 2 } as const;
export const MountPropagation = { PRIVATE: 0, HOST_TO_CONTAINER: 1, BIDIRECTIONAL: 2 } as const;
export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 } as const;
export const PodSandboxState = { READY: 0, NOTREADY: 1 } as const;
export const ContainerStateCode = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;

/** Each RPC: its service, and the request and response message names. Several RPCs share a shape (ids only, empty). */
export const RPCS = {
  Version: ['RuntimeService', 'VersionRequest', 'VersionResponse'],
  Status: ['RuntimeService', 'StatusRequest', 'StatusResponse'],
  RunPodSandbox: ['RuntimeService', 'RunPodSandboxRequest', 'RunPodSandboxResponse'],
  StopPodSandbox: ['RuntimeService', 'PodSandboxIdRequest', 'Empty'],
  RemovePodSandbox: ['RuntimeService', 'PodSandboxIdRequest', 'Empty'],
  PodSandboxStatus: ['RuntimeService', 'PodSandboxStatusRequest', 'PodSandboxStatusResponse'],
  ListPodSandbox: ['RuntimeService', 'ListPodSandboxRequest', 'ListPodSandboxResponse'],
  CreateContainer: ['RuntimeService', 'CreateContainerRequest', 'CreateContainerResponse'],
  StartContainer: ['RuntimeService', 'ContainerIdRequest', 'Empty'],
  StopContainer: ['RuntimeService', 'StopContainerRequest', 'Empty'],
  RemoveContainer: ['RuntimeService', 'ContainerIdRequest', 'Empty'],
  ListContainers: ['RuntimeService', 'ListContainersRequest', 'ListContainersResponse'],
  ContainerStatus: ['RuntimeService', 'ContainerStatusRequest', 'ContainerStatusResponse'],
  ExecSync: ['RuntimeService', 'ExecSyncRequest', 'ExecSyncResponse'],
  Exec: ['RuntimeService', 'ExecRequest', 'UrlResponse'],
  Attach: ['RuntimeService', 'AttachRequest', 'UrlResponse'],
  PortForward: ['RuntimeService', 'PortForwardRequest', 'UrlResponse'],
  ContainerStats: ['RuntimeService', 'ContainerIdRequest', 'ContainerStatsResponse'],
  // ReopenContainerLogRequest is { container_id = 1 }, the shape of ContainerIdRequest; its response is empty.
  ReopenContainerLog: ['RuntimeService', 'ContainerIdRequest', 'Empty'],
  PodSandboxStats: ['RuntimeService', 'PodSandboxIdRequest', 'PodSandboxStatsResponse'],
  ListImages: ['ImageService', 'ListImagesRequest', 'ListImagesResponse'],
  ImageStatus: ['ImageService', 'ImageStatusRequest', 'ImageStatusResponse'],
  PullImage: ['ImageService', 'PullImageRequest', 'PullImageResponse'],
  RemoveImage: ['ImageService', 'RemoveImageRequest', 'Empty'],
} as const;

export type RpcName = keyof typeof RPCS;

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const ns = root.define('runtime.v1');
  for (const [name, fields] of Object.entries(MESSAGES)) {
    const type = new protobuf.Type(name);
    for (const [fieldName, id, fieldType, rule] of fields) {
      if (rule === 'map') type.add(new protobuf.MapField(fieldName, id, 'string', fieldType));
      else type.add(new protobuf.Field(fieldName, id, fieldType, rule));
    }
    ns.add(type);
  }
  root.resolveAll();
  return root;
}

const root = buildRoot();

export function messageType(name: string): protobuf.Type {
  return root.lookupType(`runtime.v1.${name}`);
}

/**
 * Plain-object conversion: int64 as JS numbers (ns timestamps lose sub-microsecond precision, which nobody reads); bytes
 * stay the Buffers protobufjs decodes into under Node; absent scalars, lists and maps get their defaults.
 */
export const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: true, arrays: true, objects: true };
