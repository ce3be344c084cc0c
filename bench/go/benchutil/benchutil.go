// Package benchutil holds what the client-go benchmark programs (bench/go/*) share: the client,
// the heap, RSS and CPU figures, the driver process (the Node script that writes the updates) and
// the one JSON line each program prints as its result.
//
// The programs are built by bench/go.ts inside Debian's kubernetes 1.20.2 source tree, in GOPATH
// mode against its vendored client-go (as that release's own build does), so this package's import
// path is k8s.io/kubernetes/operatorkit-bench/benchutil.
package benchutil

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// MB is a mebibyte, the unit of every memory figure.
const MB = 1 << 20

// Flags are the command-line options every program takes, followed by `--` and the driver command.
type Flags struct {
	Kubeconfig  string
	Namespace   string
	ContentType string
	N           int
	// Driver is the command (executable first) that writes the updates once the program is ready.
	Driver []string
}

// ParseFlags registers the common flags on the default FlagSet (after the program's own) and parses.
func ParseFlags() Flags {
	var f Flags
	flag.StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig of the API server")
	flag.StringVar(&f.Namespace, "namespace", "", "namespace of the ConfigMaps")
	flag.StringVar(&f.ContentType, "content-type", "protobuf", "wire format: protobuf (as kube-controller-manager runs built-in kinds) or json")
	flag.IntVar(&f.N, "n", 10000, "ConfigMaps in the namespace")
	flag.Parse()
	f.Driver = flag.Args()
	if f.Kubeconfig == "" || f.Namespace == "" {
		Fatal(fmt.Errorf("-kubeconfig and -namespace are required"))
	}
	return f
}

// Config is the rest.Config for the kubeconfig, in the wire format asked for.
func Config(kubeconfig, contentType string) (*rest.Config, error) {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	switch contentType {
	case "protobuf":
		// what kube-controller-manager sets for built-in kinds (its --kube-api-content-type default)
		config.ContentType = "application/vnd.kubernetes.protobuf"
		config.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	case "json":
		config.ContentType = "application/json"
		config.AcceptContentTypes = "application/json"
	default:
		return nil, fmt.Errorf("unknown -content-type %q (protobuf or json)", contentType)
	}
	// no client-side throttling in the way of a benchmark (the informers make a list and a watch)
	config.QPS = 1000
	config.Burst = 1000
	return config, nil
}

// Clientset is the typed clientset for the kubeconfig, in the wire format asked for.
func Clientset(kubeconfig, contentType string) *kubernetes.Clientset {
	config, err := Config(kubeconfig, contentType)
	if err != nil {
		Fatal(err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		Fatal(err)
	}
	return client
}

// LiveHeap forces two GCs and returns the live heap (HeapAlloc), the Go counterpart of Node's
// heapUsed after gc().
func LiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// HeapAlloc is the current HeapAlloc without a GC (for peaks).
func HeapAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// RSS is the process's resident set in bytes (/proc/self/statm).
func RSS() uint64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident uint64
	if _, err := fmt.Sscan(string(data), &size, &resident); err != nil {
		return 0
	}
	return resident * uint64(os.Getpagesize())
}

// CPUMicros is the CPU time of the whole process (every thread, user and system) in microseconds,
// as Node's process.cpuUsage() counts it.
func CPUMicros() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		Fatal(err)
	}
	return ru.Utime.Nano()/1000 + ru.Stime.Nano()/1000
}

// HeapPeak samples HeapAlloc every 2 ms until stop is closed, then sends the largest value seen.
func HeapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		peak := HeapAlloc()
		ticker := time.NewTicker(2 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				if h := HeapAlloc(); h > peak {
					peak = h
				}
			case <-stop:
				if h := HeapAlloc(); h > peak {
					peak = h
				}
				out <- peak
				return
			}
		}
	}()
	return out
}

// RunDriver runs the driver command (stderr passed through) and returns the last line it printed.
func RunDriver(command []string) (string, error) {
	if len(command) == 0 {
		return "", fmt.Errorf("no driver command after --")
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stderr = os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w (%s)", strings.Join(command, " "), err, lastLine(out.String()))
	}
	return lastLine(out.String()), nil
}

func lastLine(s string) string {
	last := ""
	scanner := bufio.NewScanner(strings.NewReader(s))
	for scanner.Scan() {
		if line := strings.TrimSpace(scanner.Text()); line != "" {
			last = line
		}
	}
	return last
}

// WaitFor polls cond every millisecond (cache.WaitForCacheSync polls every 100 ms, which would
// measure its period rather than client-go's work) and fails after the timeout.
func WaitFor(what string, timeout time.Duration, cond func() bool) {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			Fatal(fmt.Errorf("%s: not done after %s", what, timeout))
		}
		time.Sleep(time.Millisecond)
	}
}

// Await waits for ch to close and fails after the timeout.
func Await(what string, timeout time.Duration, ch <-chan struct{}) {
	select {
	case <-ch:
	case <-time.After(timeout):
		Fatal(fmt.Errorf("%s: not done after %s", what, timeout))
	}
}

// Percentile as the Node workers compute it: the value at floor(p/100 × n) of the sorted samples.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(p / 100 * float64(len(s)))
	if i > len(s)-1 {
		i = len(s) - 1
	}
	return s[i]
}

// Median of the samples (the mean of the two middle ones for an even count), as bench/lib.ts's.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// Round1 rounds to one decimal, as the Node workers report.
func Round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }

// Round2 rounds to two decimals.
func Round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

// Print writes the result as the one JSON line the coordinator reads (the last line of stdout).
func Print(result interface{}) {
	data, err := json.Marshal(result)
	if err != nil {
		Fatal(err)
	}
	fmt.Println(string(data))
}

// Fatal reports the error on stderr and exits with status 1.
func Fatal(err error) {
	fmt.Fprintf(os.Stderr, "[client-go] %v\n", err)
	os.Exit(1)
}
