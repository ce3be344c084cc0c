import * as Schema from "effect/Schema"
import * as Admission from "../../src/Admission.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"

/** The Widget kind the admission and webhook unit tests check: bounds, a default, a record, a deprecated field. */
export const widgetKind = (group: string) =>
  Kind.custom({
    group,
    version: "v1",
    kind: "Widget",
    namespaced: true,
    spec: Schema.Struct({
      size: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 })),
      color: Schema.Literals(["red", "blue"]).pipe(CrdDefinition.withDefault("red")),
      owner: Schema.String,
      tags: Schema.optionalKey(Schema.Record(Schema.String, Schema.Int)),
      legacy: Schema.optionalKey(Schema.String.pipe(Admission.deprecated("use spec.owner")))
    })
  })
