/**
 * The one function that hides credentials in a URI before it is shown or
 * logged (database URIs above all): the password of the user information —
 * also one containing `@`, `:` or `/` unencoded, since everything up to the
 * last `@` of the URI is taken as user information — and the values of
 * credential query parameters (`?password=`, `sslpassword`, `secret`,
 * `token`, ...). It errs on the side of hiding too much. Nothing here throws.
 */

const SECRET_PARAMS = /([?&;](?:password|passwd|pass|pwd|sslpassword|sslkey|secret|token|api_key|apikey|key)=)[^&;#]*/gi;

export function redactUri(uri: string): string {
  let out = uri;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(out);
  if (scheme) {
    const rest = out.slice(scheme[0].length);
    const at = rest.lastIndexOf("@");
    if (at >= 0) {
      const userinfo = rest.slice(0, at);
      const colon = userinfo.indexOf(":");
      if (colon >= 0) out = `${scheme[0]}${userinfo.slice(0, colon)}:***@${rest.slice(at + 1)}`;
    }
  }
  return out.replace(SECRET_PARAMS, "$1***");
}
