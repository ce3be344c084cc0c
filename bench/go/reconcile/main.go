// The reconcile benchmark's client-go measurement, the counterpart of bench/reconcile-worker.ts:
// a controller as client-go's sample-controller writes one (a SharedInformerFactory's ConfigMap
// informer and lister, a rate-limited work queue with the default controller rate limiter, workers
// that read the lister and Forget the key) with a no-op reconcile.
//
//	reconcile -mode startup -workers C -kubeconfig K -namespace NS -content-type protobuf|json -n N
//	reconcile -mode latency -workers 4 -kubeconfig K -namespace NS -content-type protobuf|json -- <writer command>
//
// startup: from just before the informer is made to synced, and to the N-th distinct object
// reconciled. latency: while the writer command (bench/reconcile-writer.ts) patches a Date.now()
// stamp into the objects, the time from the stamp to the start of the reconcile that sees it.
package main

import (
	"flag"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"k8s.io/kubernetes/operatorkit-bench/benchutil"
)

// controller is the sample-controller shape with reconcile as its sync handler.
type controller struct {
	queue     workqueue.RateLimitingInterface
	reconcile func(*corev1.ConfigMap)
	get       func(namespace, name string) (*corev1.ConfigMap, error)
}

func (c *controller) enqueue(obj interface{}) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		benchutil.Fatal(err)
	}
	c.queue.Add(key)
}

func (c *controller) runWorker() {
	for c.processNextWorkItem() {
	}
}

func (c *controller) processNextWorkItem() bool {
	obj, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(obj)
	namespace, name, err := cache.SplitMetaNamespaceKey(obj.(string))
	if err != nil {
		c.queue.Forget(obj)
		return true
	}
	cm, err := c.get(namespace, name)
	if err != nil {
		// deleted since: nothing to do for a no-op controller
		c.queue.Forget(obj)
		return true
	}
	c.reconcile(cm)
	c.queue.Forget(obj)
	return true
}

func main() {
	mode := flag.String("mode", "startup", "startup or latency")
	workers := flag.Int("workers", 1, "concurrent workers")
	flags := benchutil.ParseFlags()
	client := benchutil.Clientset(flags.Kubeconfig, flags.ContentType)
	stop := make(chan struct{})

	var mu sync.Mutex
	seen := make(map[string]struct{}, flags.N)
	allSeen := make(chan struct{})
	var latencies []float64
	var reconcile func(*corev1.ConfigMap)
	switch *mode {
	case "startup":
		reconcile = func(cm *corev1.ConfigMap) {
			mu.Lock()
			defer mu.Unlock()
			if _, ok := seen[cm.Name]; ok {
				return
			}
			seen[cm.Name] = struct{}{}
			if len(seen) == flags.N {
				close(allSeen)
			}
		}
	case "latency":
		reconcile = func(cm *corev1.ConfigMap) {
			now := time.Now().UnixMilli()
			stamp, err := strconv.ParseInt(cm.Data["stamp"], 10, 64)
			if err != nil || stamp <= 0 {
				return
			}
			mu.Lock()
			latencies = append(latencies, float64(now-stamp))
			mu.Unlock()
		}
	default:
		benchutil.Fatal(fmt.Errorf("unknown -mode %q", *mode))
	}

	start := time.Now()
	cpu0 := benchutil.CPUMicros()
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(flags.Namespace))
	configMaps := factory.Core().V1().ConfigMaps()
	lister := configMaps.Lister()
	c := &controller{
		queue:     workqueue.NewNamedRateLimitingQueue(workqueue.DefaultControllerRateLimiter(), "bench"),
		reconcile: reconcile,
		get:       func(namespace, name string) (*corev1.ConfigMap, error) { return lister.ConfigMaps(namespace).Get(name) },
	}
	configMaps.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	factory.Start(stop)
	benchutil.WaitFor("sync", 120*time.Second, configMaps.Informer().HasSynced)
	synced := time.Since(start)
	syncedCPU := benchutil.CPUMicros() - cpu0
	for i := 0; i < *workers; i++ {
		go wait.Until(c.runWorker, time.Second, stop)
	}

	if *mode == "startup" {
		benchutil.Await(fmt.Sprintf("%d objects reconciled", flags.N), 120*time.Second, allSeen)
		reconciled := time.Since(start)
		reconciledCPU := benchutil.CPUMicros() - cpu0
		close(stop)
		c.queue.ShutDown()
		benchutil.Print(map[string]interface{}{
			"synced_ms":         synced.Milliseconds(),
			"reconciled_ms":     reconciled.Milliseconds(),
			"synced_cpu_ms":     syncedCPU / 1000,
			"reconciled_cpu_ms": reconciledCPU / 1000,
		})
		return
	}

	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	latencies = latencies[:0]
	mu.Unlock()
	if _, err := benchutil.RunDriver(flags.Driver); err != nil {
		benchutil.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	samples := append([]float64(nil), latencies...)
	mu.Unlock()
	close(stop)
	c.queue.ShutDown()
	benchutil.Print(map[string]interface{}{
		"p50":     benchutil.Percentile(samples, 50),
		"p99":     benchutil.Percentile(samples, 99),
		"median":  benchutil.Median(samples),
		"samples": len(samples),
	})
}
