/**
 * Which versions of etcd, kube-apiserver and kube-controller-manager Envtest runs, and the flags each
 * version takes. Pure: the versions come from the binaries (`--version`), the folders and ports from
 * Envtest. Every minor from 1.20 to {@link newestKubernetes} is covered by test/unit/EnvtestFlags.
 *
 * What changes across versions (Kubernetes and etcd release notes):
 * - kube-apiserver 1.24 removed the insecure serving flags (`--insecure-port`, inert since 1.20);
 *   before 1.24 it must be `0`, from 1.24 it must be absent.
 * - kube-controller-manager 1.24 removed `--port`/`--address` (insecure serving); before 1.22 its
 *   default insecure port 10252 would clash between two control planes, so `--port=0` until 1.23.
 * - kube-apiserver needs the service-account issuer and signing key from 1.20 on (every version here).
 * - etcd `--unsafe-no-fsync` exists in 3.5 and 3.6, and in 3.4 from 3.4.16 on (fixed there); older
 *   3.4 patches run without it (slower writes, same behaviour).
 * @internal
 */
import * as Path from "node:path"

/** A released version, `major.minor.patch`. */
export interface Version {
  readonly major: number
  readonly minor: number
  readonly patch: number
}

/** The oldest and newest Kubernetes minors Envtest knows the flags of. */
export const oldestKubernetes: Version = { major: 1, minor: 20, patch: 0 }
export const newestKubernetes: Version = { major: 1, minor: 37, patch: 0 }
/** The etcd minors Envtest knows the flags of. */
export const oldestEtcd: Version = { major: 3, minor: 4, patch: 0 }
export const newestEtcd: Version = { major: 3, minor: 6, patch: 0 }

export const format = (v: Version) => `${v.major}.${v.minor}.${v.patch}`
const minorOf = (v: Version) => `${v.major}.${v.minor}`

export const supportedKubernetes = `${minorOf(oldestKubernetes)} to ${minorOf(newestKubernetes)}`
export const supportedEtcd = `${minorOf(oldestEtcd)} to ${minorOf(newestEtcd)}`

const parse = (re: RegExp) => (text: string): Version | undefined => {
  const m = re.exec(text)
  return m === null ? undefined : { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) }
}

/** `kube-apiserver --version` / `kube-controller-manager --version`: `Kubernetes v1.31.4`. */
export const parseKubernetesVersion = parse(/Kubernetes v(\d+)\.(\d+)\.(\d+)/)
/** `etcd --version`: `etcd Version: 3.5.21` (first line). */
export const parseEtcdVersion = parse(/etcd Version: (\d+)\.(\d+)\.(\d+)/)

const compare = (a: Version, b: Version) => a.major - b.major || a.minor - b.minor || a.patch - b.patch
/** Whether `v` lies in the minors `oldest`..`newest` (any patch). */
const within = (v: Version, oldest: Version, newest: Version) =>
  compare(v, { ...oldest, patch: 0 }) >= 0 && compare(v, { ...newest, patch: Number.MAX_SAFE_INTEGER }) <= 0

export const isSupportedKubernetes = (v: Version) => within(v, oldestKubernetes, newestKubernetes)
export const isSupportedEtcd = (v: Version) => within(v, oldestEtcd, newestEtcd)

const atLeast = (v: Version, major: number, minor: number, patch = 0) => compare(v, { major, minor, patch }) >= 0

/** Where the processes of one control plane listen and keep their files. */
export interface Layout {
  /** The control plane's temporary folder. */
  readonly dir: string
  readonly etcdPort: number
  readonly etcdPeerPort: number
  readonly apiPort: number
  /** `false` serves watches from etcd (`--watch-cache=false`). */
  readonly watchCache: boolean
}


export const etcdFlags = (version: Version, layout: Layout): ReadonlyArray<string> => [
  "--name=envtest",
  `--data-dir=${Path.join(layout.dir, "etcd")}`,
  `--listen-client-urls=http://127.0.0.1:${layout.etcdPort}`,
  `--advertise-client-urls=http://127.0.0.1:${layout.etcdPort}`,
  `--listen-peer-urls=http://127.0.0.1:${layout.etcdPeerPort}`,
  `--initial-advertise-peer-urls=http://127.0.0.1:${layout.etcdPeerPort}`,
  `--initial-cluster=envtest=http://127.0.0.1:${layout.etcdPeerPort}`,
  ...(atLeast(version, 3, 4, 16) ? ["--unsafe-no-fsync"] : [])
]

export const apiServerFlags = (version: Version, layout: Layout): ReadonlyArray<string> => [
  `--etcd-servers=http://127.0.0.1:${layout.etcdPort}`,
  "--bind-address=127.0.0.1",
  "--advertise-address=127.0.0.1",
  `--secure-port=${layout.apiPort}`,
  ...(atLeast(version, 1, 24) ? [] : ["--insecure-port=0"]),
  `--cert-dir=${Path.join(layout.dir, "certs")}`,
  `--token-auth-file=${Path.join(layout.dir, "tokens.csv")}`,
  "--authorization-mode=RBAC",
  "--service-account-issuer=https://kubernetes.default.svc",
  `--service-account-key-file=${Path.join(layout.dir, "sa.pub")}`,
  `--service-account-signing-key-file=${Path.join(layout.dir, "sa.key")}`,
  "--service-cluster-ip-range=10.0.0.0/24",
  "--allow-privileged=true",
  "--enable-priority-and-fairness=false",
  // as controller-runtime's envtest: without the controller manager no default ServiceAccount exists
  "--disable-admission-plugins=ServiceAccount",
  ...(layout.watchCache ? [] : ["--watch-cache=false"])
]

export const controllerManagerFlags = (version: Version, layout: Layout): ReadonlyArray<string> => [
  `--kubeconfig=${Path.join(layout.dir, "admin.kubeconfig")}`,
  "--controllers=garbagecollector,namespace,serviceaccount-token",
  "--leader-elect=false",
  ...(atLeast(version, 1, 24) ? [] : ["--port=0"]),
  "--secure-port=0",
  `--service-account-private-key-file=${Path.join(layout.dir, "sa.key")}`,
  `--root-ca-file=${Path.join(layout.dir, "certs", "apiserver.crt")}`
]
