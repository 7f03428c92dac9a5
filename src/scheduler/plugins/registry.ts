/**
 * The in-tree plugins and the default profile (apis/config/v1 getDefaultPlugins): the same plugins, order and
 * score weights as kube-scheduler's default multiPoint set; of the volume plugins only VolumeBinding (without its
 * capacity score).
 */
import type { Profile } from '../framework/framework.js';
import { Registry } from '../framework/registry.js';
import { defaultSchedulerName } from '../framework/types.js';
import { DefaultBinder } from './default-binder/default-binder.js';
import { DefaultPreemption, type DefaultPreemptionArgs } from './default-preemption/default-preemption.js';
import { ImageLocality } from './image-locality/image-locality.js';
import { InterPodAffinity, type InterPodAffinityArgs } from './inter-pod-affinity/inter-pod-affinity.js';
import * as names from './names.js';
import { NodeAffinity } from './node-affinity/node-affinity.js';
import { NodeName } from './node-name/node-name.js';
import { NodePorts } from './node-ports/node-ports.js';
import { NodeResourcesBalancedAllocation } from './node-resources-balanced-allocation/node-resources-balanced-allocation.js';
import { NodeResourcesFit, type NodeResourcesFitArgs } from './node-resources-fit/node-resources-fit.js';
import { NodeUnschedulable } from './node-unschedulable/node-unschedulable.js';
import { PodTopologySpread, type PodTopologySpreadArgs } from './pod-topology-spread/pod-topology-spread.js';
import { PrioritySort } from './priority-sort/priority-sort.js';
import { SchedulingGates } from './scheduling-gates/scheduling-gates.js';
import { TaintToleration } from './taint-toleration/taint-toleration.js';
import { VolumeBinding, volumeListersFrom } from './volume-binding/volume-binding.js';
import type { InformerFactory } from '../../client/types.js';

/** `informers` feeds the plugins that read more than nodes and pods (VolumeBinding: claims, volumes, classes). */
export function newInTreeRegistry(informers?: InformerFactory): Registry {
  return new Registry([
    [names.PrioritySort, () => new PrioritySort()],
    [names.SchedulingGates, () => new SchedulingGates()],
    [names.NodeUnschedulable, () => new NodeUnschedulable()],
    [names.NodeName, () => new NodeName()],
    [names.TaintToleration, () => new TaintToleration()],
    [names.NodeAffinity, () => new NodeAffinity()],
    [names.NodePorts, () => new NodePorts()],
    [names.NodeResourcesFit, (args) => new NodeResourcesFit(args as NodeResourcesFitArgs)],
    [names.VolumeBinding, (_args, h) => new VolumeBinding(h, informers && volumeListersFrom(informers))],
    [names.PodTopologySpread, (args, h) => new PodTopologySpread(h, args as PodTopologySpreadArgs)],
    [names.InterPodAffinity, (args, h) => new InterPodAffinity(h, args as InterPodAffinityArgs)],
    [names.DefaultPreemption, (args, h) => new DefaultPreemption(h, args as DefaultPreemptionArgs)],
    [names.NodeResourcesBalancedAllocation, (args) => new NodeResourcesBalancedAllocation(args as { resources?: { name: string; weight: number }[] })],
    [names.ImageLocality, (_args, h) => new ImageLocality(h)],
    [names.DefaultBinder, (_args, h) => new DefaultBinder(h)],
  ]);
}

/** The default profile: plugin order is the Filter order (cheapest, most selective checks first). */
export function defaultProfile(schedulerName = defaultSchedulerName): Profile {
  return {
    schedulerName,
    plugins: [
      { name: names.SchedulingGates },
      { name: names.PrioritySort },
      { name: names.NodeUnschedulable },
      { name: names.NodeName },
      { name: names.TaintToleration, weight: 3 },
      { name: names.NodeAffinity, weight: 2 },
      { name: names.NodePorts },
      { name: names.NodeResourcesFit, weight: 1 },
      { name: names.VolumeBinding },
      { name: names.PodTopologySpread, weight: 2 },
      { name: names.InterPodAffinity, weight: 2 },
      { name: names.DefaultPreemption },
      { name: names.NodeResourcesBalancedAllocation, weight: 1 },
      { name: names.ImageLocality, weight: 1 },
      { name: names.DefaultBinder },
    ],
  };
}
