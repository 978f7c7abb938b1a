/**
 * The one registry of rule ids -> level and reason. Every change spec:diff reports names a rule
 * here; families (operations.ts, parameters.ts, bodies.ts, schemas.ts, constraints.ts,
 * security.ts, deprecation.ts) only say which rule fired. Ids are oasdiff's where one maps
 * (`oasdiff` lists the ids it uses for the same change when ours differs); `deliberate` says why
 * our level differs from oasdiff's where a TypeScript consumer of openapi-fetch sees it otherwise.
 */

/** How much a change can hurt a consumer: oasdiff's ERR / WARN / INFO. */
export type ChangeLevel = "breaking" | "maybe-breaking" | "non-breaking";

/** Which side of the wire a rule is about (`none`: the document or the operation as a whole). */
export type RuleDirection = "request" | "response" | "none";

/** One rule: its level, why, and how it relates to oasdiff's. */
export interface Rule {
  level: ChangeLevel;
  direction: RuleDirection;
  reason: string;
  /** oasdiff's ids for the same change, when ours is named otherwise. */
  oasdiff?: readonly string[];
  /** Why our level differs from oasdiff's, when it does on purpose. */
  deliberate?: string;
}

const ERR = "breaking";
const WARN = "maybe-breaking";
const INFO = "non-breaking";

type Row = [level: ChangeLevel, reason: string, extra?: Pick<Rule, "oasdiff" | "deliberate">];

function group(direction: RuleDirection, rows: Record<string, Row>): Record<string, Rule> {
  return Object.fromEntries(Object.entries(rows).map(([id, [level, reason, extra]]) => [id, { level, direction, reason, ...extra }]));
}

const OPERATIONS = group("none", {
  "operation-removed": [ERR, "callers of the path stop compiling and get 404/405", {
    oasdiff: ["api-removed-without-deprecation", "api-path-removed-without-deprecation", "api-removed-with-deprecation", "api-path-removed-with-deprecation"],
    deliberate: "oasdiff says INFO once the operation was deprecated; callers' code still breaks when the path leaves the generated types",
  }],
  "operation-added": [INFO, "nobody calls it yet", { oasdiff: ["endpoint-added"] }],
  "path-parameter-renamed": [ERR, "the path template is a key of the generated `paths`: callers passing the old template and its parameter name stop compiling", {
    deliberate: "oasdiff matches the operation by its template without parameter names and reports nothing; openapi-fetch callers name the template and the parameter",
  }],
  "webhook-removed": [ERR, "receivers lose calls they rely on"],
  "webhook-added": [INFO, "receivers may ignore it"],
  "operation-id-changed": [WARN, "the generated `operations` type is keyed by operationId", {
    oasdiff: ["api-operation-id-added", "api-operation-id-removed"],
    deliberate: "oasdiff says INFO; code naming operations[\"old-id\"] stops compiling",
  }],
  "default-server-changed": [WARN, "servers[0] is the generated client's default base URL", {
    deliberate: "oasdiff does not compare servers; callers relying on the default base URL move hosts",
  }],
  "server-added": [WARN, "where the API lives changed", { deliberate: "oasdiff does not compare servers" }],
  "server-removed": [WARN, "a base URL callers may use is gone", { deliberate: "oasdiff does not compare servers" }],
});

const DEPRECATION = {
  ...group("none", {
    "endpoint-deprecated": [INFO, "still works; a notice to plan for its removal"],
    "endpoint-reactivated": [INFO, "no longer deprecated"],
    "api-removed-before-sunset": [ERR, "removed before the date it was promised until"],
    "sunset-deleted": [ERR, "a deprecated operation's promised sunset date was dropped"],
    "api-sunset-date-changed-too-small": [ERR, "the promised sunset date moved earlier"],
    "api-path-sunset-parse": [ERR, "x-sunset is not a date: the promise cannot be read"],
    "api-invalid-stability-level": [ERR, "x-stability-level is not draft, alpha, beta or stable"],
    "api-stability-decreased": [ERR, "a weaker stability promise than before"],
    "api-stability-increased": [INFO, "a stronger stability promise"],
  }),
  ...group("request", {
    "request-parameter-deprecated": [INFO, "still accepted"],
    "request-parameter-reactivated": [INFO, "no longer deprecated"],
    "request-parameter-removed-before-sunset": [ERR, "removed before the date it was promised until"],
    "request-parameter-removed-with-deprecation": [INFO, "deprecated, and its sunset (if any) has passed: callers were told"],
    "request-parameter-sunset-parse": [ERR, "x-sunset is not a date: the promise cannot be read"],
    "request-parameter-sunset-deleted": [ERR, "a deprecated parameter's promised sunset date was dropped"],
    "request-parameter-sunset-date-changed-too-small": [ERR, "the promised sunset date moved earlier"],
  }),
};

const PARAMETERS = group("request", {
  "request-parameter-removed": [WARN, "servers usually ignore unknown parameters, but callers passing it stop compiling once regenerated"],
  "new-required-request-parameter": [ERR, "existing calls lack it"],
  "new-optional-request-parameter": [INFO, "existing calls stay valid"],
  "new-request-path-parameter": [ERR, "the path template changed: existing calls lack it"],
  "request-parameter-became-required": [ERR, "calls that omitted it are now invalid"],
  "request-parameter-became-optional": [INFO, "every call stays valid"],
});

const BODIES = {
  ...group("request", {
    "request-body-removed": [ERR, "openapi-fetch then types `body` as never: callers sending one stop compiling"],
    "request-body-added-required": [ERR, "existing calls send no body"],
    "request-body-added-optional": [INFO, "existing calls stay valid"],
    "request-body-became-required": [ERR, "calls without a body are now invalid"],
    "request-body-became-optional": [INFO, "every call stays valid"],
    "request-body-media-type-removed": [ERR, "bodies sent as that type are refused"],
    "request-body-media-type-added": [INFO, "one more accepted encoding"],
  }),
  ...group("response", {
    "response-success-status-removed": [ERR, "callers reading that success body get nothing they expect"],
    "response-non-success-status-removed": [INFO, "one error fewer"],
    "response-success-status-added": [WARN, "openapi-fetch's `data` becomes a union with the new body", {
      deliberate: "oasdiff says INFO; openapi-fetch types `data` as the union of every 2xx body, so code reading it may stop compiling",
    }],
    "response-non-success-status-added": [WARN, "openapi-fetch's `error` becomes a union with the new body", {
      deliberate: "oasdiff says INFO; openapi-fetch types `error` as the union of every error body, so code reading it may stop compiling",
    }],
    "response-media-type-removed": [ERR, "consumers asking for it get something else"],
    "response-media-type-added": [WARN, "openapi-fetch's `data` becomes a union over media types", {
      deliberate: "oasdiff says INFO; the generated `data` type is the union of every media type's body",
    }],
    "required-response-header-removed": [ERR, "consumers reading it get nothing"],
    "optional-response-header-removed": [WARN, "consumers reading it may rely on it"],
    "response-header-added": [INFO, "consumers may ignore it"],
    "response-header-became-optional": [ERR, "consumers reading it unconditionally now meet undefined"],
    "response-header-became-required": [INFO, "consumers already handle it"],
  }),
};

const SECURITY = group("none", {
  "api-security-added": [INFO, "generated types do not change; callers must hold the new credential"],
  "api-security-removed": [INFO, "fewer requirements"],
  "api-security-scope-added": [INFO, "generated types do not change"],
  "api-security-scope-removed": [INFO, "generated types do not change"],
  "api-global-security-added": [INFO, "generated types do not change"],
  "api-global-security-removed": [INFO, "fewer requirements"],
  "api-global-security-scope-added": [INFO, "generated types do not change"],
  "api-global-security-scope-removed": [INFO, "generated types do not change"],
  "api-security-component-added": [INFO, "a new scheme nobody uses yet"],
  "api-security-component-removed": [INFO, "the operations using it are reported on their own"],
  "api-security-component-type-changed": [INFO, "generated types do not change"],
});

/** A schema rule's level on each side: [request, response]. */
type SchemaRow = [request: ChangeLevel, response: ChangeLevel, reason: string, extra?: Pick<Rule, "oasdiff" | "deliberate">];

/**
 * Schema rules, named `<subject>-<suffix>` for every subject: a request value must stay accepted
 * (narrowing breaks), a response value must stay what consumers handle (widening breaks).
 */
const SCHEMA: Record<string, SchemaRow> = {
  "type-changed": [ERR, ERR, "values of the old type are refused / no longer arrive"],
  "type-generalized": [INFO, ERR, "request: more is accepted; response: values the generated types never allowed can arrive"],
  "type-specialized": [ERR, INFO, "request: values once valid are refused; response: every value still fits the old type"],
  "became-nullable": [INFO, ERR, "response: null can arrive where code expects a value"],
  "became-not-nullable": [ERR, INFO, "request: callers sending null are refused"],
  "became-enum": [ERR, INFO, "request: only listed values are accepted now"],
  "enum-removed": [INFO, WARN, "response: values outside the old list can arrive"],
  "enum-value-added": [INFO, WARN, "response: exhaustive switches over the generated union miss it"],
  "enum-value-removed": [ERR, INFO, "request: callers sending it are refused"],
  "const-added": [ERR, INFO, "request: one value only is accepted now"],
  "const-removed": [INFO, ERR, "response: other values can arrive"],
  "const-changed": [ERR, ERR, "the one allowed value is another"],
  "one-of-added": [INFO, ERR, "response: a new shape to handle"],
  "one-of-removed": [ERR, INFO, "request: callers sending that shape are refused"],
  "any-of-added": [INFO, ERR, "response: a new shape to handle", {
    deliberate: "oasdiff says INFO for responses; openapi-typescript emits anyOf as a union, like oneOf, so a new member widens what consumers handle",
  }],
  "any-of-removed": [ERR, INFO, "request: callers sending that shape are refused"],
  "all-of-added": [ERR, INFO, "request: a new constraint every value must meet"],
  "all-of-removed": [WARN, INFO, "request: a constraint dropped; the generated type changes"],
  "all-of-added-annotation-only": [INFO, INFO, "a member that only annotates changes no value"],
  "all-of-removed-annotation-only": [INFO, INFO, "a member that only annotates changes no value"],
  "wrapped-in-one-of": [ERR, ERR, "the generated type becomes a union; the old shape is one choice among several"],
  "composition-changed": [WARN, WARN, "oneOf/anyOf switched kind: cannot tell from the spec"],
  "schema-changed": [WARN, WARN, "a $ref that is not followed changed"],
  // constraints.ts: upper bounds
  ...bounds("max", "upper"), ...bounds("exclusive-max", "upper"), ...bounds("max-length", "upper"), ...bounds("max-items", "upper"), ...bounds("max-properties", "upper"), ...bounds("max-contains", "upper"),
  ...bounds("min", "lower"), ...bounds("exclusive-min", "lower"), ...bounds("min-length", "lower"), ...bounds("min-items", "lower"), ...bounds("min-properties", "lower"), ...bounds("min-contains", "lower"),
  "pattern-added": [ERR, INFO, "request: values once valid may not match"],
  "pattern-changed": [WARN, INFO, "request: cannot tell which values still match"],
  "pattern-removed": [INFO, INFO, "fewer constraints; response: consumers rarely re-validate"],
  "pattern-generalized": [INFO, INFO, "the new pattern matches any string: every value once valid still is"],
  "format-changed": [ERR, ERR, "values in the old format are refused / no longer arrive"],
  "format-added": [ERR, INFO, "request: values once valid may not be in the format"],
  "format-removed": [INFO, ERR, "response: values outside the old format can arrive"],
  "default-value-added": [INFO, INFO, "what the server assumes changed, not what is sent"],
  "default-value-changed": [INFO, INFO, "what the server assumes changed, not what is sent"],
  "default-value-removed": [INFO, INFO, "what the server assumes changed, not what is sent"],
  "discriminator-added": [INFO, INFO, "generated types do not change"],
  "discriminator-removed": [INFO, INFO, "generated types do not change"],
  "discriminator-property-name-changed": [INFO, INFO, "generated types do not change"],
  "discriminator-mapping-changed": [INFO, INFO, "generated types do not change"],
  "deprecated": [INFO, INFO, "still works; a notice"],
  "deprecated-sunset-invalid": [ERR, ERR, "x-sunset is not a date: the promise cannot be read"],
  "x-extensible-enum-value-removed": [ERR, INFO, "request: callers sending it are refused"],
  // schemas.ts: 3.1 sub-schema keywords. Added: a request must also satisfy it; removed: a response may no longer.
  ...keyword("if"), ...keyword("then"), ...keyword("else"), ...keyword("contains"), ...keyword("property-names"),
  ...keyword("unevaluated-properties"), ...keyword("unevaluated-items"), ...keyword("content-schema"),
  ...keyword("pattern-property"), ...keyword("dependent-schema"), ...keyword("dependent-required"),
  "dependent-required-changed": [ERR, ERR, "which properties go together changed"],
  // A new prefixItems entry constrains a response position consumers read loosely before; a dropped one frees a request position.
  "prefix-items-added": [INFO, ERR, "response: a position's shape is now fixed differently"],
  "prefix-items-removed": [ERR, INFO, "request: positions once constrained change meaning"],
  "content-media-type-changed": [ERR, ERR, "the encoded content is another type"],
  "content-encoding-changed": [ERR, ERR, "the content is encoded otherwise"],
  "reactivated": [INFO, INFO, "no longer deprecated"],
};

function keyword(name: string): Record<string, SchemaRow> {
  return {
    [`${name}-added`]: [ERR, INFO, "request: values once valid may fail the new constraint"],
    [`${name}-removed`]: [INFO, ERR, "response: values outside the old constraint can arrive"],
  };
}

function bounds(name: string, side: "upper" | "lower"): Record<string, SchemaRow> {
  // Tighter: fewer values allowed. A request must keep accepting old values; a response must keep
  // sending values inside what consumers expect.
  const tighter = side === "upper" ? "decreased" : "increased";
  const looser = side === "upper" ? "increased" : "decreased";
  return {
    [`${name}-${tighter}`]: [ERR, INFO, "request: values once valid are refused"],
    [`${name}-${looser}`]: [INFO, ERR, "response: values beyond the old limit can arrive"],
    [`${name}-set`]: [WARN, INFO, "request: cannot tell whether callers stayed within the new limit"],
    [`${name}-unset`]: [INFO, ERR, "response: values beyond the old limit can arrive"],
  };
}

/** Schema-rule prefixes and their side. */
export const SUBJECTS = {
  "request-parameter": "request",
  "request-parameter-property": "request",
  "request-body": "request",
  "request-property": "request",
  "response-body": "response",
  "response-property": "response",
  "response-header": "response",
} as const;

/** Per-subject exceptions to the schema table. */
const SCHEMA_OVERRIDES: Record<string, Row> = {
  "request-parameter-type-changed": [ERR, "calls passing the old type stop compiling and may be refused", {
    deliberate: "oasdiff reads most changes towards string as generalized (a parameter travels as text); openapi-fetch types the parameter, so callers passing a number where a string is now expected stop compiling",
  }],
  // Inside a parameter's object value (deepObject, JSON content) servers often coerce: oasdiff's WARN.
  "request-parameter-property-type-changed": [WARN, "a property of a parameter's value changed type; servers often coerce"],
  // A parameter's default is what the server does when a call omits it: those calls change meaning.
  "request-parameter-default-value-added": [ERR, "calls omitting the parameter change meaning"],
  "request-parameter-default-value-changed": [ERR, "calls omitting the parameter change meaning"],
  "request-parameter-default-value-removed": [ERR, "calls omitting the parameter change meaning"],
};

const PROPERTIES = {
  ...group("request", {
    "request-property-removed": [WARN, "servers usually ignore unknown fields, but the regenerated type no longer has it"],
    "request-parameter-property-removed": [WARN, "the regenerated type no longer has it"],
    "new-required-request-property": [ERR, "existing bodies lack it"],
    "new-optional-request-property": [INFO, "existing bodies stay valid"],
    "request-property-became-required": [ERR, "bodies that omitted it are refused"],
    "request-property-became-optional": [INFO, "every body stays valid"],
    "request-parameter-property-became-required": [ERR, "values that omitted it are refused"],
    "request-parameter-property-became-optional": [INFO, "every value stays valid"],
  }),
  ...group("response", {
    "response-property-removed": [ERR, "code reading it stops compiling and meets undefined", {
      oasdiff: ["response-required-property-removed", "response-optional-property-removed"],
      deliberate: "oasdiff says WARN for an optional property; the regenerated type drops it, so code reading it stops compiling",
    }],
    "response-required-property-added": [INFO, "consumers ignore what they do not read"],
    "response-optional-property-added": [INFO, "consumers ignore what they do not read"],
    "response-property-became-optional": [ERR, "code reading it unconditionally now meets undefined"],
    "response-property-became-required": [INFO, "consumers already handle it"],
  }),
};

function schemaRules(): Record<string, Rule> {
  const out: Record<string, Rule> = {};
  for (const [subject, direction] of Object.entries(SUBJECTS)) {
    for (const [suffix, [request, response, reason, extra]] of Object.entries(SCHEMA)) {
      out[`${subject}-${suffix}`] = { level: direction === "request" ? request : response, direction, reason, ...extra };
    }
  }
  for (const [id, [level, reason, extra]] of Object.entries(SCHEMA_OVERRIDES)) out[id] = { level, direction: "request", reason, ...extra };
  return out;
}

/** Every rule spec:diff can report, by id. */
export const RULES: Readonly<Record<string, Rule>> = {
  ...OPERATIONS, ...DEPRECATION, ...PARAMETERS, ...BODIES, ...SECURITY, ...schemaRules(), ...PROPERTIES,
};
