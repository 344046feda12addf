export const PIDF_NS = "urn:ietf:params:xml:ns:pidf";
export const RPID_NS = "urn:ietf:params:xml:ns:pidf:rpid";
export const DM_NS = "urn:ietf:params:xml:ns:pidf:data-model";

/** A device's publication: one tuple, and an RPID activity on the person. */
export function pidf(aor: string, tuple: string, basic: "open" | "closed", activity = "busy"): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="${PIDF_NS}" xmlns:dm="${DM_NS}" xmlns:rpid="${RPID_NS}" entity="pres:${aor}">
  <tuple id="${tuple}"><status><basic>${basic}</basic></status><contact>sip:${aor}</contact></tuple>
  <dm:person id="p1"><rpid:activities><rpid:${activity}/></rpid:activities></dm:person>
</presence>`;
}

export function rules(body: string): string {
  return `<ruleset xmlns="urn:ietf:params:xml:ns:common-policy" xmlns:pr="urn:ietf:params:xml:ns:pres-rules">${body}</ruleset>`;
}

export const rule = (id: string, conditions: string, handling: string) => `<rule id="${id}"><conditions>${conditions}</conditions><actions><pr:sub-handling>${handling}</pr:sub-handling></actions></rule>`;
