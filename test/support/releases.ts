/**
 * What the release notes say about the flags Envtest passes, per component and version, written
 * down independently of src/testing/envtest/flags.ts so the two can be checked against each other.
 * The stand-in binaries (standIn.ts) refuse exactly these flags, as the real versions do.
 */

export interface Removal {
  readonly flag: string
  /** The first version without the flag. */
  readonly removedIn: string
  readonly source: string
}

export const removed: Record<"kube-apiserver" | "kube-controller-manager" | "etcd", ReadonlyArray<Removal>> = {
  "kube-apiserver": [
    // CHANGELOG-1.24: "the insecure address flags --address, --insecure-bind-address, --port and
    // --insecure-port (inert since 1.20) are removed"
    { flag: "--insecure-port", removedIn: "1.24.0", source: "CHANGELOG-1.24" },
    { flag: "--insecure-bind-address", removedIn: "1.24.0", source: "CHANGELOG-1.24" },
    { flag: "--address", removedIn: "1.24.0", source: "CHANGELOG-1.24" },
    { flag: "--port", removedIn: "1.24.0", source: "CHANGELOG-1.24" }
  ],
  "kube-controller-manager": [
    // CHANGELOG-1.24: "the insecure address flags --address and --port in kube-controller-manager
    // have had no effect since v1.20 and are removed in v1.24"
    { flag: "--port", removedIn: "1.24.0", source: "CHANGELOG-1.24" },
    { flag: "--address", removedIn: "1.24.0", source: "CHANGELOG-1.24" }
  ],
  etcd: [
    // etcd 3.6 removed the v2 store and its flags
    { flag: "--enable-v2", removedIn: "3.6.0", source: "etcd CHANGELOG-3.6" },
    { flag: "--experimental-enable-v2v3", removedIn: "3.6.0", source: "etcd CHANGELOG-3.6" }
  ]
}

/** Flags that exist only from a version on (passing them earlier is refused). */
export const added: Record<"kube-apiserver" | "kube-controller-manager" | "etcd", ReadonlyArray<{ readonly flag: string; readonly addedIn: string }>> = {
  "kube-apiserver": [],
  "kube-controller-manager": [],
  // etcd CHANGELOG-3.4 lists `--unsafe-no-fsync` as fixed in 3.4.16 (controller-runtime counts it
  // from 3.5); Envtest passes it from 3.4.16 on, so a stand-in of an older 3.4 treats it as absent
  etcd: [{ flag: "--unsafe-no-fsync", addedIn: "3.4.16" }]
}

/** Flags a component needs to start as Envtest runs it, from a version on. */
export const required: Record<"kube-apiserver" | "kube-controller-manager" | "etcd", ReadonlyArray<{ readonly flag: string; readonly from: string; readonly until?: string }>> = {
  "kube-apiserver": [
    // 1.20: service account token issuance needs the issuer and the signing key
    { flag: "--service-account-issuer", from: "1.20.0" },
    { flag: "--service-account-key-file", from: "1.20.0" },
    { flag: "--service-account-signing-key-file", from: "1.20.0" },
    // restricted users only get what RBAC grants
    { flag: "--authorization-mode", from: "1.20.0" },
    { flag: "--secure-port", from: "1.20.0" },
    { flag: "--etcd-servers", from: "1.20.0" }
  ],
  "kube-controller-manager": [
    // before 1.22 it serves insecurely on 10252 unless told not to: two control planes would clash
    { flag: "--port", from: "1.20.0", until: "1.22.0" },
    { flag: "--kubeconfig", from: "1.20.0" },
    { flag: "--service-account-private-key-file", from: "1.20.0" }
  ],
  etcd: [{ flag: "--data-dir", from: "3.4.0" }, { flag: "--listen-client-urls", from: "3.4.0" }]
}

export const compareVersions = (a: string, b: string) => {
  const pa = a.split(".").map(Number)
  const pb = b.split(".").map(Number)
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0)
  return 0
}

/** The flags a given version refuses: removed by then, or not added yet. */
export const refusedBy = (component: keyof typeof removed, version: string): Array<string> => [
  ...removed[component].filter((r) => compareVersions(version, r.removedIn) >= 0).map((r) => r.flag),
  ...added[component].filter((a) => compareVersions(version, a.addedIn) < 0).map((a) => a.flag)
]

/** The name of a flag argument: `--a=b` → `--a`. */
export const flagName = (arg: string) => arg.split("=")[0]!
