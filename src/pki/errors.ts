import { defineError } from "../base/index.js";

export const PkiExistsError = defineError("THOR_PKI_EXISTS", "PkiExistsError");
export const PkiNotFoundError = defineError("THOR_PKI_NOT_FOUND", "PkiNotFoundError");
export const PassportError = defineError("THOR_PKI_PASSPORT", "PassportError");
export const PkiInvalidError = defineError("THOR_PKI_INVALID", "PkiInvalidError");
