import { channel } from "../base/index.js";

/** A CRL reload: adopted (with the number of revoked serials) or rejected (previous CRL kept). */
export const crlChannel = channel<{ path: string; adopted: boolean; revoked?: number; error?: string }>("thor:pki:crl");
