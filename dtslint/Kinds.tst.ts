import type { Effect } from "effect"
import { Schema } from "effect"
import { describe, expect, it } from "tstyche"
import { Client, Kind, type KubeError } from "operatorkit"
import { Deployment, type DeploymentSpec } from "operatorkit/kinds/apps/v1"
import { CronJob } from "operatorkit/kinds/batch/v1beta1"
import { type Container, PodTemplateSpec, type ServicePort } from "operatorkit/kinds/core/v1"
import type { NamedObjectMeta, ObjectMeta } from "operatorkit/kinds/meta/v1"

declare const client: Client.ClientService

describe("built-in kinds (operatorkit/kinds/…)", () => {
  it("a kind's name is its descriptor and the type of its objects", () => {
    expect(Deployment).type.toBe<Kind.Kind<Deployment, true>>()
    expect<Kind.Type<typeof Deployment>>().type.toBe<Deployment>()
    expect(Kind.Deployment).type.toBe<Kind.Kind<Deployment, true>>()
    expect(client.get(Deployment, { namespace: "a", name: "web" })).type.toBe<Effect.Effect<Deployment, KubeError.KubeError>>()
  })

  it("the pod template is typed, down to the containers", () => {
    expect<DeploymentSpec["template"]>().type.toBe<PodTemplateSpec>()
    expect<NonNullable<PodTemplateSpec["spec"]>["containers"]>().type.toBe<ReadonlyArray<Container>>()
    expect<Container["name"]>().type.toBe<string>()
    expect<Container["image"]>().type.toBe<string | undefined>()
    expect<NonNullable<NonNullable<CronJob["spec"]>["jobTemplate"]["spec"]>["template"]>().type.toBe<PodTemplateSpec>()
  })

  it("int-or-string, quantities and times as on the wire; unknown fields allowed at every level", () => {
    expect<ServicePort["targetPort"]>().type.toBe<number | string | undefined>()
    expect<NonNullable<NonNullable<Container["resources"]>["limits"]>[string]>().type.toBe<string>()
    expect<ObjectMeta["creationTimestamp"]>().type.toBe<string | null | undefined>()
    expect<ObjectMeta["deletionTimestamp"]>().type.toBe<string | undefined>()
    expect<Container["addedInKubernetes1_40"]>().type.toBe<unknown>()
  })

  it("a stored object's metadata has a name; a template's need not", () => {
    expect<Deployment["metadata"]>().type.toBe<NamedObjectMeta>()
    expect<NamedObjectMeta["name"]>().type.toBe<string>()
    expect<ObjectMeta["name"]>().type.toBe<string | undefined>()
    expect(client.create).type.not.toBeCallableWith(Deployment, { metadata: { namespace: "a" } })
    expect(client.create).type.not.toBeCallableWith(Deployment, {
      metadata: { name: "web" },
      spec: { selector: {}, template: { spec: { containers: [{ image: "nginx" }] } } }
    })
  })

  it("the Schemas compose into custom resources", () => {
    const Runner = Kind.custom({
      group: "example.com",
      version: "v1",
      kind: "Runner",
      namespaced: true,
      spec: Schema.Struct({ template: PodTemplateSpec })
    })
    expect<Kind.Type<typeof Runner>["spec"]["template"]>().type.toBe<PodTemplateSpec>()
  })
})
