import { assert, describe, it } from "@effect/vitest"
import * as Flags from "../../src/testing/envtest/flags.ts"
import { compareVersions, flagName, refusedBy, required } from "../support/releases.ts"

const layout: Flags.Layout = { dir: "/tmp/cp", etcdPort: 2379, etcdPeerPort: 2380, apiPort: 6443, watchCache: true }

const v = (text: string): Flags.Version => {
  const [major, minor, patch] = text.split(".").map(Number)
  return { major: major!, minor: minor!, patch: patch! }
}

/** Every Kubernetes minor Envtest supports, at patch 0 and at a late patch. */
const kubernetesVersions = Array.from({ length: 37 - 20 + 1 }, (_, i) => 20 + i)
  .flatMap((minor) => [`1.${minor}.0`, `1.${minor}.11`])

const needs = (component: keyof typeof required, version: string) =>
  required[component]
    .filter((r) => compareVersions(version, r.from) >= 0 && (r.until === undefined || compareVersions(version, r.until) < 0))
    .map((r) => r.flag)

const checkFlags = (component: keyof typeof required, version: string, flags: ReadonlyArray<string>) => {
  const names = flags.map(flagName)
  for (const flag of refusedBy(component, version)) {
    assert.notInclude(names, flag, `${component} ${version} has no ${flag}`)
  }
  for (const flag of needs(component, version)) {
    assert.include(names, flag, `${component} ${version} needs ${flag}`)
  }
  assert.strictEqual(new Set(names).size, names.length, `no flag twice for ${component} ${version}`)
}

describe("Envtest flags for each version", () => {
  it("kube-apiserver: every minor from 1.20 to 1.37 gets only flags it has, and every flag it needs", () => {
    for (const version of kubernetesVersions) {
      checkFlags("kube-apiserver", version, Flags.apiServerFlags(v(version), layout))
    }
    // the flag that made every current binary refuse to start: present until 1.23, gone from 1.24
    assert.include(Flags.apiServerFlags(v("1.23.17"), layout), "--insecure-port=0")
    assert.notInclude(Flags.apiServerFlags(v("1.24.0"), layout).map(flagName), "--insecure-port")
  })

  it("kube-controller-manager: every minor from 1.20 to 1.37 likewise", () => {
    for (const version of kubernetesVersions) {
      checkFlags("kube-controller-manager", version, Flags.controllerManagerFlags(v(version), layout))
    }
    assert.include(Flags.controllerManagerFlags(v("1.20.2"), layout), "--port=0")
    assert.notInclude(Flags.controllerManagerFlags(v("1.24.0"), layout).map(flagName), "--port")
  })

  it("etcd 3.4 (before and after 3.4.16), 3.5 and 3.6", () => {
    for (const version of ["3.4.0", "3.4.13", "3.4.16", "3.4.23", "3.5.0", "3.5.21", "3.6.0", "3.6.4"]) {
      checkFlags("etcd", version, Flags.etcdFlags(v(version), layout))
    }
    assert.notInclude(Flags.etcdFlags(v("3.4.13"), layout), "--unsafe-no-fsync")
    assert.include(Flags.etcdFlags(v("3.4.23"), layout), "--unsafe-no-fsync")
    assert.include(Flags.etcdFlags(v("3.6.4"), layout), "--unsafe-no-fsync")
  })

  it("the layout and options reach the flags", () => {
    const flags = Flags.apiServerFlags(v("1.31.0"), { ...layout, watchCache: false })
    assert.include(flags, "--etcd-servers=http://127.0.0.1:2379")
    assert.include(flags, "--secure-port=6443")
    assert.include(flags, "--watch-cache=false")
    assert.notInclude(Flags.apiServerFlags(v("1.31.0"), layout), "--watch-cache=false")
    assert.include(Flags.etcdFlags(v("3.5.0"), layout), "--initial-cluster=envtest=http://127.0.0.1:2380")
  })

  it("supports Kubernetes 1.20 to 1.37 and etcd 3.4 to 3.6, any patch", () => {
    assert.isTrue(Flags.isSupportedKubernetes(v("1.20.0")))
    assert.isTrue(Flags.isSupportedKubernetes(v("1.37.99")))
    assert.isFalse(Flags.isSupportedKubernetes(v("1.19.16")))
    assert.isFalse(Flags.isSupportedKubernetes(v("1.38.0")))
    assert.isTrue(Flags.isSupportedEtcd(v("3.4.0")))
    assert.isTrue(Flags.isSupportedEtcd(v("3.6.12")))
    assert.isFalse(Flags.isSupportedEtcd(v("3.3.27")))
    assert.isFalse(Flags.isSupportedEtcd(v("3.7.0")))
  })

  it("reads the versions the binaries print", () => {
    assert.deepStrictEqual(Flags.parseKubernetesVersion("Kubernetes v1.34.1\n"), v("1.34.1"))
    assert.deepStrictEqual(
      Flags.parseEtcdVersion("etcd Version: 3.6.4\nGit SHA: 5400cdc\nGo Version: go1.23.11\nGo OS/Arch: linux/amd64\n"),
      v("3.6.4")
    )
    assert.isUndefined(Flags.parseKubernetesVersion("kubectl: unknown flag"))
  })
})
