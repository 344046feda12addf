/** XCAP documents shared by the xcap tests. */
export const RL_NS = "urn:ietf:params:xml:ns:resource-lists";
export const CP_NS = "urn:ietf:params:xml:ns:common-policy";
export const PR_NS = "urn:ietf:params:xml:ns:pres-rules";

export const BUDDIES = `<?xml version="1.0" encoding="UTF-8"?>
<resource-lists xmlns="${RL_NS}">
  <list name="friends">
    <display-name>Friends</display-name>
    <entry uri="sip:bob@example.com"><display-name>Bob</display-name></entry>
    <entry uri="sip:carol@example.com"/>
  </list>
  <list name="work"/>
</resource-lists>
`;

export const RULES = `<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns:cr="${CP_NS}" xmlns:pr="${PR_NS}">
  <cr:rule id="allow-friends">
    <cr:conditions><cr:identity><cr:one id="sip:bob@example.com"/></cr:identity></cr:conditions>
    <cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>
    <cr:transformations/>
  </cr:rule>
</cr:ruleset>
`;
