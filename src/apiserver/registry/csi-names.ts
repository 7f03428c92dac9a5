/** The CSI driver name rule shared by CSIDriver, CSINode and VolumeAttachment (storage validation's ValidateCSIDriverName). */
import { fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import { regexError } from '../../api/validation.js';

const CSI_DRIVER_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/;
const CSI_DRIVER_NAME_MAX = 63;
// Upstream's csiDriverNameRexpFmt and its (DNS-1123 worded) message.
const CSI_DRIVER_NAME_FMT = '^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$';

/** Messages for a bad driver name (empty list: valid), as a NameValidator would give. */
export function csiDriverNameErrors(name: string): string[] {
  const errs: string[] = [];
  if (name.length > CSI_DRIVER_NAME_MAX) errs.push(`must be no more than ${CSI_DRIVER_NAME_MAX} characters`);
  if (!CSI_DRIVER_NAME.test(name)) {
    errs.push(regexError("a DNS-1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", CSI_DRIVER_NAME_FMT, 'MyName', 'my.name', '123-abc'));
  }
  return errs;
}

export function validateCSIDriverName(name: string | undefined, path: string): FieldError[] {
  if (!name) return [fieldRequired(path)];
  if (name.length > CSI_DRIVER_NAME_MAX) return [{ type: 'FieldValueTooLong', field: path, detail: `Too long: may not be more than ${CSI_DRIVER_NAME_MAX} bytes` }];
  return csiDriverNameErrors(name).map((msg) => fieldInvalid(path, name, msg));
}
