// The informer benchmark's client-go measurement, the counterpart of bench/informer-worker.ts:
//
//	informer -kubeconfig K -namespace NS -content-type protobuf|json -n N -- <updater command>
//
// In order: time to synced; the retained heap (HeapAlloc after forced GCs) and RSS; CPU per watch
// event while the updater command (bench/informer-updater.ts) patches every object once, paced;
// the heap peak during a forced relist against the steady heap just before it. Prints one JSON
// line with the same metrics as the Node worker.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"k8s.io/kubernetes/operatorkit-bench/benchutil"
)

// relistable is a ListerWatcher that can force the informer's relist the way a real server does:
// Arm stops the open watch, and the next watch answers with a 410 Expired error event, so the
// Reflector runs its own 410 path (back off, list again, Replace into the DeltaFIFO). Nothing of it
// sits in the path of the events while it is not armed.
type relistable struct {
	list  func(metav1.ListOptions) (runtime.Object, error)
	watch func(metav1.ListOptions) (watch.Interface, error)

	mu      sync.Mutex
	armed   bool
	current watch.Interface
}

func (r *relistable) List(options metav1.ListOptions) (runtime.Object, error) {
	return r.list(options)
}

func (r *relistable) Watch(options metav1.ListOptions) (watch.Interface, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.armed {
		r.armed = false
		w := watch.NewFakeWithChanSize(1, false)
		w.Error(&metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    410,
			Reason:  metav1.StatusReasonExpired,
			Message: "forced by the benchmark",
		})
		return w, nil
	}
	w, err := r.watch(options)
	r.current = w
	return w, err
}

// Arm makes the next watch fail with 410 and ends the open one.
func (r *relistable) Arm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = true
	if r.current != nil {
		r.current.Stop()
		r.current = nil
	}
}

// subject is one informer under measurement. Another kind of informer (a metadata-only one, say)
// is another constructor returning the same.
type subject struct {
	informer cache.SharedIndexInformer
	lw       *relistable
}

// typedConfigMaps is the informer client-go's SharedInformerFactory builds for ConfigMaps
// (informers/core/v1.NewFilteredConfigMapInformer: the same ListWatch, object and indexers), with
// the ListWatch made relistable.
func typedConfigMaps(client kubernetes.Interface, namespace string) subject {
	cms := client.CoreV1().ConfigMaps(namespace)
	lw := &relistable{
		list: func(options metav1.ListOptions) (runtime.Object, error) {
			return cms.List(context.TODO(), options)
		},
		watch: func(options metav1.ListOptions) (watch.Interface, error) {
			return cms.Watch(context.TODO(), options)
		},
	}
	informer := cache.NewSharedIndexInformer(lw, &corev1.ConfigMap{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	return subject{informer: informer, lw: lw}
}

const (
	phaseReplay int32 = iota
	phaseEvents
	phaseRelist
)

func main() {
	flags := benchutil.ParseFlags()
	n := flags.N
	client := benchutil.Clientset(flags.Kubeconfig, flags.ContentType)
	s := typedConfigMaps(client, flags.Namespace)
	baseline := benchutil.LiveHeap()

	// 1. time to synced: the informer's HasSynced (its store holds the first list)
	stop := make(chan struct{})
	t0 := time.Now()
	cpu0 := benchutil.CPUMicros()
	go s.informer.Run(stop)
	benchutil.WaitFor("sync", 120*time.Second, s.informer.HasSynced)
	syncMs := time.Since(t0).Milliseconds()
	syncCPUMs := (benchutil.CPUMicros() - cpu0) / 1000
	if size := len(s.informer.GetStore().ListKeys()); size != n {
		benchutil.Fatal(fmt.Errorf("synced with %d objects, expected %d", size, n))
	}

	// 2. retained heap and RSS after GC
	synced := benchutil.LiveHeap()
	rss := benchutil.RSS()

	// 3. CPU per watch event. The handler is added now, as operatorkit's subscriber is: the
	// informer replays its store as adds first.
	var phase int32 = phaseReplay
	var added, events, relisted int
	var cpuFirst, cpuLast int64
	replayed := make(chan struct{})
	received := make(chan struct{})
	relistDone := make(chan struct{})
	// handlers of one listener run one at a time, on the listener's goroutine
	s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(interface{}) {
			if added++; added == n {
				close(replayed)
			}
		},
		UpdateFunc: func(_, _ interface{}) {
			switch atomic.LoadInt32(&phase) {
			case phaseEvents:
				if events++; events == 1 {
					cpuFirst = benchutil.CPUMicros()
				}
				if events == n {
					cpuLast = benchutil.CPUMicros()
					close(received)
				}
			case phaseRelist:
				// a relist's unchanged objects reach the handler as resync updates
				if relisted++; relisted == n {
					close(relistDone)
				}
			}
		},
	})
	benchutil.Await("replay of the store to the handler", 60*time.Second, replayed)
	atomic.StoreInt32(&phase, phaseEvents)
	updaterOut := make(chan string, 1)
	updaterErr := make(chan error, 1)
	go func() {
		out, err := benchutil.RunDriver(flags.Driver)
		if err != nil {
			updaterErr <- err
			return
		}
		updaterOut <- out
	}()
	var updater struct {
		Ms int64 `json:"ms"`
	}
	select {
	case err := <-updaterErr:
		benchutil.Fatal(err)
	case out := <-updaterOut:
		if err := json.Unmarshal([]byte(out), &updater); err != nil {
			benchutil.Fatal(fmt.Errorf("updater printed %q: %w", out, err))
		}
	case <-time.After(180 * time.Second):
		benchutil.Fatal(fmt.Errorf("updater not done after 180 s"))
	}
	benchutil.Await(fmt.Sprintf("%d update events", n), 180*time.Second, received)

	// 4. heap peak during a forced relist, against the steady heap after GC just before it
	time.Sleep(200 * time.Millisecond)
	steady := benchutil.LiveHeap()
	stopSampling := make(chan struct{})
	peakCh := benchutil.HeapPeak(stopSampling)
	atomic.StoreInt32(&phase, phaseRelist)
	s.lw.Arm()
	benchutil.Await("relist", 120*time.Second, relistDone)
	close(stopSampling)
	peak := <-peakCh
	if size := len(s.informer.GetStore().ListKeys()); size != n {
		benchutil.Fatal(fmt.Errorf("%d objects after the relist, expected %d", size, n))
	}
	close(stop)

	benchutil.Print(result{
		SyncMs:     syncMs,
		SyncCPUMs:  syncCPUMs,
		RetainedMb: benchutil.Round1(float64(synced-baseline) / benchutil.MB),
		// Go has no module cost to take apart: the whole live heap after sync
		RetainedWithModulesMb: benchutil.Round1(float64(synced) / benchutil.MB),
		RssMb:                 benchutil.Round1(float64(rss) / benchutil.MB),
		CPUUsPerEvent:         benchutil.Round1(float64(cpuLast-cpuFirst) / float64(n-1)),
		Events:                events,
		UpdateMs:              updater.Ms,
		SteadyHeapMb:          benchutil.Round1(float64(steady) / benchutil.MB),
		RelistPeakMb:          benchutil.Round1(float64(peak) / benchutil.MB),
		RelistPeakRatio:       benchutil.Round2(float64(peak) / float64(steady)),
	})
}

// result has the Node worker's metrics, in its order.
type result struct {
	SyncMs                int64   `json:"sync_ms"`
	SyncCPUMs             int64   `json:"sync_cpu_ms"`
	RetainedMb            float64 `json:"retained_mb"`
	RetainedWithModulesMb float64 `json:"retained_with_modules_mb"`
	RssMb                 float64 `json:"rss_mb"`
	CPUUsPerEvent         float64 `json:"cpu_us_per_event"`
	Events                int     `json:"events"`
	UpdateMs              int64   `json:"update_ms"`
	SteadyHeapMb          float64 `json:"steady_heap_mb"`
	RelistPeakMb          float64 `json:"relist_peak_mb"`
	RelistPeakRatio       float64 `json:"relist_peak_ratio"`
}
