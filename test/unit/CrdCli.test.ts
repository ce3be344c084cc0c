import { assert, describe, it } from "@effect/vitest"
import { vi } from "vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import { Yaml } from "effect/encoding"

// Each test runs the CLI as a child process (a few seconds of CPU to load the sources) up to three
// times; on two shared cores under a full suite that took 80 s, so the bound is wider than the default.
vi.setConfig({ testTimeout: 240_000 })

const root = Path.resolve(import.meta.dirname, "..", "..")
const bin = Path.join(root, "src", "bin", "operatorkit.ts")

/** Writes a module into a fresh project folder (where `effect` and `operatorkit` resolve) and runs `operatorkit <args>` on it. */
const run = (moduleText: string | undefined, args: (module: string) => ReadonlyArray<string>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-cli-"))),
    (dir) =>
      Effect.sync(() => {
        Fs.mkdirSync(Path.join(dir, "node_modules"))
        Fs.symlinkSync(Path.join(root, "node_modules", "effect"), Path.join(dir, "node_modules", "effect"))
        Fs.symlinkSync(root, Path.join(dir, "node_modules", "operatorkit"))
        const module = Path.join(dir, "crds.ts")
        if (moduleText !== undefined) Fs.writeFileSync(module, moduleText)
        const out = ChildProcess.spawnSync(process.execPath, ["--conditions=@operatorkit/source", bin, ...args(module)], {
          encoding: "utf8",
          cwd: dir
        })
        return { status: out.status, stdout: out.stdout, stderr: out.stderr }
      }),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

const twoCrds = `
import { Schema } from "effect"
import { Crd, CrdDefinition, Kind } from "operatorkit"

export const Widget = Kind.custom({
  group: "cli.operatorkit.test", version: "v1", kind: "Widget", namespaced: true,
  spec: Schema.Struct({
    size: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 3 })),
    code: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[A-Z]+$/)))
  })
})
export const WidgetCrd = CrdDefinition.makeUnsafe(Widget)
export const GadgetCrd = CrdDefinition.makeUnsafe(Kind.custom({
  group: "cli.operatorkit.test", version: "v1", kind: "Gadget", namespaced: false,
  spec: Kind.Open({ note: Schema.optionalKey(Schema.String) })
}))
export const alsoWidget = WidgetCrd
export const notACrd = 42
`

describe("operatorkit crd <module>", () => {
  it.effect("prints every exported definition as YAML documents by default", () =>
    Effect.gen(function*() {
      const out = yield* run(twoCrds, (m) => ["crd", m])
      assert.strictEqual(out.status, 0, out.stderr)
      const docs = out.stdout.split(/^---\n/m).map((d) => Yaml.parse(d) as any)
      assert.deepStrictEqual(docs.map((d) => d.metadata.name).sort(), ["gadgets.cli.operatorkit.test", "widgets.cli.operatorkit.test"])
      const widget = docs.find((d) => d.spec.names.kind === "Widget")
      assert.deepStrictEqual(widget.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size, {
        type: "integer",
        minimum: 1,
        maximum: 3
      })
      assert.include(out.stderr, "note: widgets.cli.operatorkit.test v1 spec.code: a string matching the RegExp ^[A-Z]+$")
      const gadget = docs.find((d) => d.spec.names.kind === "Gadget")
      assert.strictEqual(gadget.spec.scope, "Cluster")
      assert.isTrue(gadget.spec.versions[0].schema.openAPIV3Schema.properties.spec["x-kubernetes-preserve-unknown-fields"])
    }))

  it.effect("--format json prints a List of several, or the object of one", () =>
    Effect.gen(function*() {
      const both = yield* run(twoCrds, (m) => ["crd", m, "--format", "json"])
      assert.strictEqual(both.status, 0, both.stderr)
      const list = JSON.parse(both.stdout)
      assert.strictEqual(list.kind, "List")
      assert.strictEqual(list.items.length, 2)
      const one = yield* run(twoCrds.replace(/export const GadgetCrd[\s\S]*?\}\)\)\n/, ""), (m) => ["crd", "--format=json", m])
      assert.strictEqual(one.status, 0, one.stderr)
      assert.strictEqual(JSON.parse(one.stdout).kind, "CustomResourceDefinition")
    }))

  it.live("a module that starts a program when imported: its CRDs are printed, its program cannot act", () =>
    Effect.gen(function*() {
      const marker = Path.join(Os.tmpdir(), `operatorkit-cli-marker-${process.pid}`)
      const unguarded = yield* run(
        twoCrds + `
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as ChildProcess from "node:child_process"
import { Effect as E } from "effect"
E.runFork(E.andThen(E.sleep("20 millis"), E.sync(() => Fs.writeFileSync(${JSON.stringify(marker)}, "ran"))))
Net.connect(6443, "127.0.0.1").on("error", () => {})
try { ChildProcess.spawn("true") } catch {}
`,
        (m) => ["crd", m]
      )
      assert.strictEqual(unguarded.status, 0, unguarded.stderr)
      assert.include(unguarded.stdout, "name: widgets.cli.operatorkit.test")
      assert.include(unguarded.stderr, "started work (a connection to 127.0.0.1:6443")
      assert.include(unguarded.stderr, "if (import.meta.main)")
      yield* Effect.sleep("200 millis")
      assert.isFalse(Fs.existsSync(marker), "the module's program wrote its file")
    }))

  it.live("a module whose program is guarded by import.meta.main: nothing starts, nothing to report", () =>
    Effect.gen(function*() {
      const marker = Path.join(Os.tmpdir(), `operatorkit-cli-marker-${process.pid}-guarded`)
      const guarded = yield* run(
        twoCrds + `
if (import.meta.main) {
  (await import("node:fs")).writeFileSync(${JSON.stringify(marker)}, "ran")
}
`,
        (m) => ["crd", m]
      )
      assert.strictEqual(guarded.status, 0, guarded.stderr)
      assert.notInclude(guarded.stderr, "started work")
      assert.isFalse(Fs.existsSync(marker))
    }))

  it.live("a module that writes a file while imported: refused, and the command says which file and why", () =>
    Effect.gen(function*() {
      const marker = Path.join(Os.tmpdir(), `operatorkit-cli-marker-${process.pid}-writes`)
      const writes = yield* run(twoCrds + `\n;(await import("node:fs")).writeFileSync(${JSON.stringify(marker)}, "ran")\n`, (m) => ["crd", m])
      assert.strictEqual(writes.status, 1)
      assert.include(writes.stderr, marker)
      assert.include(writes.stderr, "import.meta.main")
      assert.isFalse(Fs.existsSync(marker))
    }))

  it.effect("a definition that cannot be made fails with its paths; a module without definitions and bad usage fail", () =>
    Effect.gen(function*() {
      const broken = yield* run(
        `
import { Schema } from "effect"
import { Crd, CrdDefinition, Kind } from "operatorkit"
export const Bad = CrdDefinition.makeUnsafe(Kind.custom({
  group: "cli.operatorkit.test", version: "v1", kind: "Bad", namespaced: true,
  spec: Schema.Struct({ pair: Schema.Tuple([Schema.String, Schema.Int]) })
}))
`,
        (m) => ["crd", m]
      )
      assert.strictEqual(broken.status, 1)
      assert.include(broken.stderr, "cannot define the CRD bads.cli.operatorkit.test")
      assert.include(broken.stderr, "v1 spec.pair: a tuple")
      assert.strictEqual(broken.stdout, "")

      const empty = yield* run("export const x = 1\n", (m) => ["crd", m])
      assert.strictEqual(empty.status, 1)
      assert.include(empty.stderr, "exports no CRD definition")

      const missing = yield* run(undefined, (m) => ["crd", m])
      assert.strictEqual(missing.status, 1)
      assert.include(missing.stderr, "cannot load")

      const badFormat = yield* run(twoCrds, (m) => ["crd", m, "--format", "xml"])
      assert.strictEqual(badFormat.status, 2)
      assert.include(badFormat.stderr, "usage: operatorkit crd <module>")
      const noCommand = yield* run(undefined, () => [])
      assert.strictEqual(noCommand.status, 2)
    }))
})

describe("operatorkit rbac <module>", () => {
  const declared = `
import { Kind, LeaderElection, Rbac } from "operatorkit"
export const rbac = Rbac.make({
  name: "cm-operator",
  namespace: "operators",
  permissions: [Rbac.allow(Kind.ConfigMap, ["list", "watch"], { reason: "informer on ConfigMaps" }), LeaderElection.permissions({ name: "cm-operator" })]
})
export const again = rbac
`

  it.effect("prints the ServiceAccount, roles and bindings of every exported declaration; JSON as a List", () =>
    Effect.gen(function*() {
      const out = yield* run(declared, (m) => ["rbac", m])
      assert.strictEqual(out.status, 0, out.stderr)
      const docs = out.stdout.split(/^---\n/m).map((d) => Yaml.parse(d) as any)
      assert.deepStrictEqual(docs.map((d) => [d.kind, d.metadata.name, d.metadata.namespace]), [
        ["ServiceAccount", "cm-operator", "operators"],
        ["ClusterRole", "cm-operator", undefined],
        ["ClusterRoleBinding", "cm-operator", undefined],
        ["Role", "cm-operator", "operators"],
        ["RoleBinding", "cm-operator", "operators"]
      ])
      assert.include(out.stdout, "  # informer on ConfigMaps\n")
      assert.deepStrictEqual(docs[1].rules, [{ apiGroups: [""], resources: ["configmaps"], verbs: ["list", "watch"] }])

      const json = yield* run(declared, (m) => ["rbac", m, "--format", "json"])
      assert.strictEqual(json.status, 0, json.stderr)
      const list = JSON.parse(json.stdout)
      assert.strictEqual(list.kind, "List")
      assert.deepStrictEqual(list.items, docs)

      const empty = yield* run("export const x = 1\n", (m) => ["rbac", m])
      assert.strictEqual(empty.status, 1)
      assert.include(empty.stderr, "exports no RBAC declaration")
    }))
})

describe("operatorkit webhooks <module>", () => {
  it.effect("prints the webhook configurations and the converted CRDs of every exported definition", () =>
    Effect.gen(function*() {
      const module = `
import { Effect, Schema } from "effect"
import { Admission, Conversion, CrdDefinition, Kind, Webhooks } from "operatorkit"

const V1 = Kind.custom({ group: "cli.operatorkit.test", version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
const V2 = Kind.custom({ group: "cli.operatorkit.test", version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
const TeamCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }] })
export const TeamWebhooks = Webhooks.makeUnsafe({
  name: "team-operator",
  clientConfig: { service: { namespace: "ops", name: "team-webhooks" } },
  admissions: [Admission.make(V2, { validate: () => Effect.succeed([]), default: true, failurePolicy: "Ignore" })],
  conversions: [Conversion.makeUnsafe(TeamCrd, [Conversion.step(V1, V2, {
    decode: (t) => ({ ...t, spec: { owners: [t.spec.owner] } }),
    encode: (t) => ({ ...t, spec: { owner: t.spec.owners[0] ?? "" } })
  })])]
})
`
      const out = yield* run(module, (m) => ["webhooks", m])
      assert.strictEqual(out.status, 0, out.stderr)
      const docs = out.stdout.split(/^---\n/m).map((d) => Yaml.parse(d) as any)
      assert.deepStrictEqual(docs.map((d) => d.kind), ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "CustomResourceDefinition"])
      assert.deepStrictEqual(docs[0].webhooks[0].clientConfig.service, { namespace: "ops", name: "team-webhooks", port: 443, path: "/validate-cli-operatorkit-test-v2-team" })
      assert.strictEqual(docs[0].webhooks[0].failurePolicy, "Ignore")
      assert.deepStrictEqual(docs[2].spec.conversion.webhook.clientConfig.service.path, "/convert")

      const json = yield* run(module, (m) => ["webhooks", m, "--format", "json"])
      assert.strictEqual(JSON.parse(json.stdout).items.length, 3)
    }))
})

describe("operatorkit manifests <module>", () => {
  it.effect("prints everything that deploys each exported operator, in apply order", () =>
    Effect.gen(function*() {
      const out = yield* run(
        `
import { Kind, Manifests, Rbac } from "operatorkit"
export const operator = Manifests.make({
  name: "cm-operator", namespace: "cm", image: "ghcr.io/acme/cm-operator:1.0.0",
  permissions: [Rbac.allow(Kind.ConfigMap, ["list", "watch"])], metrics: { serviceMonitor: true }
})
`,
        (m) => ["manifests", m]
      )
      assert.strictEqual(out.status, 0, out.stderr)
      const docs = out.stdout.split(/^---\n/m).map((d) => Yaml.parse(d) as any)
      assert.deepStrictEqual(docs.map((d) => d.kind), [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "Service",
        "Deployment",
        "ServiceMonitor"
      ])
      const empty = yield* run("export const x = 1\n", (m) => ["manifests", m])
      assert.strictEqual(empty.status, 1)
      assert.include(empty.stderr, "exports no operator")
    }))
})
