/** Orders the active queue by pod priority, then by the time the pod entered the queue (queuesort.PrioritySort). */
import type { QueueSortPlugin, QueuedPodInfo } from '../../framework/interface.js';
import * as names from '../names.js';

export class PrioritySort implements QueueSortPlugin {
  readonly name = names.PrioritySort;

  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean {
    const pa = a.podInfo.priority;
    const pb = b.podInfo.priority;
    return pa > pb || (pa === pb && a.timestamp < b.timestamp);
  }
}
