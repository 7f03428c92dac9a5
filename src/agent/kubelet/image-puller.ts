/**
 * Makes sure a container's image is on the node before it is created, as kubelet's image manager does
 * (pkg/kubelet/images/image_manager.go EnsureImageExists): imagePullPolicy Always / IfNotPresent / Never (defaulted from
 * the tag as the API server does), events Pulling / Pulled / Failed / BackOff / ErrImageNeverPull in kubelet's words,
 * and ImagePullBackOff (10 s doubling to 5 min per pod and image) after a failed pull. Runtimes without images
 * (`process`) skip all of it.
 */
import type { Container } from 'kubernetes-types/core/v1.js';
import type { EventRecorder } from '../../client/types.js';
import type { ContainerRuntime } from '../runtime/types.js';
import type { Backoff } from './backoff.js';
import type { Pod } from './objects.js';

/** A pull that did not happen: the container waits with this reason (ErrImagePull, ImagePullBackOff, ErrImageNeverPull). */
export class ImagePullError extends Error {
  constructor(
    readonly reason: 'ErrImagePull' | 'ImagePullBackOff' | 'ErrImageNeverPull' | 'InvalidImageName',
    message: string,
    /** Milliseconds until a retry may succeed (the back-off left), 0 when unknown. */
    readonly retryInMs = 0,
  ) {
    super(message);
    this.name = 'ImagePullError';
  }
}

/** The API server's default: Always for `:latest` or no tag (and no digest), IfNotPresent otherwise. */
export function imagePullPolicy(container: Container): 'Always' | 'IfNotPresent' | 'Never' {
  const p = container.imagePullPolicy;
  if (p === 'Always' || p === 'IfNotPresent' || p === 'Never') return p;
  const image = container.image ?? '';
  if (image.includes('@')) return 'IfNotPresent';
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export class ImagePuller {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly recorder: EventRecorder,
    private readonly backoff: Backoff,
    private readonly now: () => number,
  ) {}

  /** Returns the image reference to record as imageID ('' for runtimes without images); throws ImagePullError. */
  async ensureImage(pod: Pod, container: Container): Promise<string> {
    if (!this.runtime.capabilities.images) return '';
    const image = container.image ?? '';
    if (!image) throw new ImagePullError('InvalidImageName', `Failed to apply default image tag "": couldn't parse image name "": invalid reference format`);
    const policy = imagePullPolicy(container);
    const present = await this.runtime.imageStatus({ image });
    if (policy === 'Never' || (policy === 'IfNotPresent' && present)) {
      if (present) {
        this.recorder.event(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
        return present.id;
      }
      const message = `Container image "${image}" is not present with pull policy of Never`;
      this.recorder.event(pod, 'Warning', 'ErrImageNeverPull', message);
      throw new ImagePullError('ErrImageNeverPull', message);
    }
    const key = `${pod.metadata?.uid}_${image}`;
    const now = this.now();
    if (this.backoff.isInBackOffSinceUpdate(key, now)) {
      const message = `Back-off pulling image "${image}"`;
      this.recorder.event(pod, 'Normal', 'BackOff', message);
      this.recorder.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      throw new ImagePullError('ImagePullBackOff', message, this.backoff.remainingSinceUpdateMs(key, now));
    }
    this.recorder.event(pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
    const started = this.now();
    try {
      const ref = await this.runtime.pullImage({ image });
      const took = formatSeconds(this.now() - started);
      const size = (await this.runtime.imageStatus({ image }))?.size;
      this.recorder.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${took} (${took} including waiting)${size !== undefined ? `. Image size: ${size} bytes.` : ''}`);
      this.backoff.reset(key);
      return ref;
    } catch (err) {
      this.backoff.next(key, this.now());
      const message = `Failed to pull image "${image}": ${(err as Error).message}`;
      this.recorder.event(pod, 'Warning', 'Failed', message);
      this.recorder.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull');
      throw new ImagePullError('ErrImagePull', message, this.backoff.get(key));
    }
  }
}

/** Go's Duration.String() as kubelet prints pull times: `1.5s`, `250ms`. */
function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${+(ms / 1000).toFixed(3)}s`;
}
