package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/fraudscore/fraudscore/tools/k8s/manifests"
)

// targetReplicas is the replica count the test's backlog is sized for: the
// docs' worked example (3 -> 7 -> 10), which also exercises the scale-up
// policy's 4 pods per 15 s.
const targetReplicas = 10

// predictedReplicas is docs/deploy.md's formula ("How scaling works"):
// desired = ceil(lag / lagThreshold), within minReplicaCount..maxReplicaCount.
func predictedReplicas(lag uint64, t trigger) int32 {
	want := int64((lag + uint64(t.LagThreshold) - 1) / uint64(t.LagThreshold))
	return int32(min(max(want, t.Min), t.Max))
}

// result is what the scenario observed, written to $K8S_E2E_RESULT for
// docs/bench/k8s-e2e.json.
type result struct {
	HPA               string    `json:"hpa"`
	Metric            string    `json:"metric"`
	LagThreshold      int64     `json:"lag_threshold"`
	MinReplicas       int64     `json:"min_replicas"`
	MaxReplicas       int64     `json:"max_replicas"`
	Published         int       `json:"published"`
	Lag               uint64    `json:"lag"`
	MetricAtBacklog   int64     `json:"external_metric_at_backlog"`
	Predicted         int32     `json:"predicted_replicas"`
	ReplicasUp        []int32   `json:"replicas_up"`
	ReplicasUpAt      []float64 `json:"replicas_up_at_seconds"`
	MetricAfterPurge  int64     `json:"external_metric_after_purge"`
	ReplicasDown      []int32   `json:"replicas_down"`
	ReplicasDownAt    []float64 `json:"replicas_down_at_seconds"`
	ScaleUpSeconds    float64   `json:"scale_up_seconds"`
	ScaleDownSeconds  float64   `json:"scale_down_seconds"`
	PublishSeconds    float64   `json:"publish_seconds"`
	HPASyncPeriod     string    `json:"hpa_sync_period"`
	ScaleUpPolicy     string    `json:"scale_up_policy"`
	ScaleDownPolicy   string    `json:"scale_down_policy"`
	DeploymentPodsNow int32     `json:"deployment_status_replicas_at_end"`
	PodsPendingAtEnd  int       `json:"pods_pending_on_no_node_at_end"`
}

var (
	deployments   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	scaledObjects = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}
)

// TestScalesOnBacklog: the whole chain, link by link. KEDA turns the
// ScaledObject into an HPA on its external metric; the metric the adapter
// serves through the API server is the consumer's real lag; the HPA
// controller moves Deployment.spec.replicas to the predicted count under the
// scale-up policy, and back to the minimum under the scale-down policy once
// the backlog is purged.
func TestScalesOnBacklog(t *testing.T) {
	if shared.skip != "" {
		t.Skip(shared.skip)
	}
	ctx := t.Context()
	so := shared.scaledObject
	ns := so.GetNamespace()
	trig, err := natsTrigger(so)
	if err != nil {
		t.Fatal(err)
	}
	res := result{LagThreshold: trig.LagThreshold, MinReplicas: trig.Min, MaxReplicas: trig.Max, HPASyncPeriod: hpaSyncPeriod}

	// Apply the overlay (namespaces first) and record every value of the
	// Deployment's spec.replicas from then on.
	objs := shared.rendered
	for _, n := range manifests.Namespaces(objs) {
		if err := shared.client.EnsureNamespace(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := shared.client.Apply(ctx, objs); err != nil {
		t.Fatalf("the API server refused testdata/e2e: %v", err)
	}
	target, _, _ := unstructured.NestedString(so.Object, "spec", "scaleTargetRef", "name")
	rec := shared.recordReplicas(t, ns, target)

	// Link 1: KEDA created the HPA, named and shaped by the ScaledObject.
	hpaName, _, _ := unstructured.NestedString(so.Object, "spec", "advanced", "horizontalPodAutoscalerConfig", "name")
	wantMetric := fmt.Sprintf("s%d-nats-jetstream-%s", trig.Index, trig.Stream)
	var hpa *autoscalingv2.HorizontalPodAutoscaler
	waitFor(t, "KEDA creates HPA "+hpaName, 2*time.Minute, func() (bool, string) {
		h, err := shared.core.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, hpaName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		hpa = h
		return true, ""
	})
	checkHPA(t, hpa, trig, target, wantMetric, so)
	res.HPA, res.Metric = hpaName, wantMetric
	res.ScaleUpPolicy, res.ScaleDownPolicy = policyString(hpa.Spec.Behavior.ScaleUp), policyString(hpa.Spec.Behavior.ScaleDown)
	waitFor(t, "ScaledObject Ready (KEDA reached the nats-server and built its scaler)", 2*time.Minute, func() (bool, string) {
		o, err := shared.dyn.Resource(scaledObjects).Namespace(ns).Get(ctx, so.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		c, _ := condition(o, "Ready")
		return c.Status == "True", c.Status + " " + c.Reason + ": " + c.Message
	})

	// Steady state before the backlog: the consumer is empty, the metric
	// reads 0 and the Deployment sits at the minimum.
	l0, err := shared.lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l0.Lag != 0 {
		t.Fatalf("consumer lag before publishing is %d, want 0", l0.Lag)
	}
	waitMetric(t, ns, wantMetric, hpa, 0)
	waitReplicas(t, ns, target, int32(trig.Min))
	upFrom := rec.mark()

	// The backlog: sized for targetReplicas, just under the next multiple of
	// lagThreshold so that the HPA's 10 % tolerance cannot hold it one
	// below while Deployment.status lags spec (the HPA compares the metric
	// with status.replicas x target).
	n := int(trig.LagThreshold)*targetReplicas - int(trig.LagThreshold)/200
	if int64(n) <= trig.Min*trig.LagThreshold {
		t.Fatalf("backlog %d is not larger than minReplicaCount x lagThreshold = %d", n, trig.Min*trig.LagThreshold)
	}
	start := time.Now()
	var pub struct{ Published int }
	if err := shared.backlogCmd(ctx, &pub, "publish", "-n", strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	res.PublishSeconds = time.Since(start).Seconds()
	lag, err := shared.lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Lag != uint64(n) || lag.NumPending != uint64(n) || lag.NumAckPending != 0 {
		t.Fatalf("after publishing %d with no consumer: %+v", n, lag)
	}
	res.Published, res.Lag = n, lag.Lag

	// Link 2: the external metric the adapter serves (asked through the API
	// server, as the HPA controller asks) is the consumer's lag.
	res.MetricAtBacklog = waitMetric(t, ns, wantMetric, hpa, int64(lag.Lag))

	// Link 3: spec.replicas rises to the formula's count, never above it,
	// by at most the scale-up policy's pods per step.
	res.Predicted = predictedReplicas(lag.Lag, trig)
	if res.Predicted != targetReplicas {
		t.Fatalf("the formula predicts %d replicas for lag %d, the test sized the backlog for %d", res.Predicted, lag.Lag, targetReplicas)
	}
	waitReplicas(t, ns, target, res.Predicted)
	res.ScaleUpSeconds = time.Since(start).Seconds()
	res.ReplicasUp, res.ReplicasUpAt = rec.since(upFrom), rec.secondsSince(upFrom, start)
	t.Logf("lag %d, lagThreshold %d: spec.replicas %v (predicted %d)", lag.Lag, trig.LagThreshold, res.ReplicasUp, res.Predicted)
	stepUp := hpa.Spec.Behavior.ScaleUp.Policies[0]
	for i := 1; i < len(res.ReplicasUp); i++ {
		prev, next := res.ReplicasUp[i-1], res.ReplicasUp[i]
		if next < prev || next > res.Predicted {
			t.Errorf("scale-up step %d -> %d: not monotone or above the predicted %d", prev, next, res.Predicted)
		}
		if stepUp.Type == autoscalingv2.PodsScalingPolicy && next-prev > stepUp.Value {
			t.Errorf("scale-up step %d -> %d exceeds the policy's %d pods per %d s", prev, next, stepUp.Value, stepUp.PeriodSeconds)
		}
	}
	// It stays there: the HPA, having seen the whole backlog, wants the
	// same count.
	waitFor(t, "the HPA's status settles at the predicted count", time.Minute, func() (bool, string) {
		h, err := shared.core.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, hpaName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return h.Status.DesiredReplicas == res.Predicted && h.Status.CurrentReplicas == res.Predicted,
			fmt.Sprintf("desired %d, current %d", h.Status.DesiredReplicas, h.Status.CurrentReplicas)
	})
	if got := rec.since(upFrom); got[len(got)-1] != res.Predicted {
		t.Fatalf("spec.replicas moved on to %v", got)
	}

	// The backlog clears (purged, as if scored and acknowledged).
	downFrom := rec.mark()
	start = time.Now()
	var purged struct{ Purged uint64 }
	if err := shared.backlogCmd(ctx, &purged, "purge"); err != nil {
		t.Fatal(err)
	}
	if purged.Purged != uint64(n) {
		t.Fatalf("purged %d messages, published %d", purged.Purged, n)
	}
	if l, err := shared.lag(ctx); err != nil || l.Lag != 0 {
		t.Fatalf("lag after purge: %+v, %v", l, err)
	}
	res.MetricAfterPurge = waitMetric(t, ns, wantMetric, hpa, 0)

	// Link 4: spec.replicas falls back to the minimum after the
	// stabilization window, by at most the scale-down policy per step.
	waitReplicas(t, ns, target, int32(trig.Min))
	res.ScaleDownSeconds = time.Since(start).Seconds()
	res.ReplicasDown, res.ReplicasDownAt = rec.since(downFrom), rec.secondsSince(downFrom, start)
	t.Logf("after the purge: spec.replicas %v (minimum %d)", res.ReplicasDown, trig.Min)
	stepDown := hpa.Spec.Behavior.ScaleDown.Policies[0]
	for i := 1; i < len(res.ReplicasDown); i++ {
		prev, next := res.ReplicasDown[i-1], res.ReplicasDown[i]
		if next > prev || next < int32(trig.Min) {
			t.Errorf("scale-down step %d -> %d: not monotone or below the minimum %d", prev, next, trig.Min)
		}
		// Percent policy: at most value % of the replicas at the start of
		// the period go (the HPA rounds the remainder up).
		if stepDown.Type == autoscalingv2.PercentScalingPolicy {
			floor := (int64(prev)*int64(100-stepDown.Value) + 99) / 100
			if int64(next) < floor {
				t.Errorf("scale-down step %d -> %d removes more than the policy's %d %%", prev, next, stepDown.Value)
			}
		}
	}
	if len(res.ReplicasDown) < 2 || res.ReplicasDown[0] != res.Predicted {
		t.Errorf("scale-down started from %v, want from %d", res.ReplicasDown, res.Predicted)
	}
	// The pods the replicaset controller made exist but never run: no
	// scheduler bound them to a node, no kubelet started them.
	d, err := shared.core.AppsV1().Deployments(ns).Get(ctx, target, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res.DeploymentPodsNow = d.Status.Replicas
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Deployment's pods are the minimum, all Pending on no node", time.Minute, func() (bool, string) {
		pods, err := shared.core.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return false, err.Error()
		}
		var phases []string
		ok := int64(len(pods.Items)) == trig.Min
		for _, p := range pods.Items {
			phases = append(phases, string(p.Status.Phase)+"@"+p.Spec.NodeName)
			ok = ok && p.Status.Phase == "Pending" && p.Spec.NodeName == "" && p.DeletionTimestamp == nil
		}
		return ok, fmt.Sprintf("%d pods %v", len(pods.Items), phases)
	})
	res.PodsPendingAtEnd = int(trig.Min)
	if gone := shared.exited(); len(gone) > 0 {
		t.Errorf("processes of the chain exited during the scenario: %v", gone)
	}
	if shared.result != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shared.result, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkHPA asserts the HPA KEDA made from the ScaledObject.
func checkHPA(t *testing.T, hpa *autoscalingv2.HorizontalPodAutoscaler, trig trigger, target, metric string, so *unstructured.Unstructured) {
	t.Helper()
	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != target || ref.APIVersion != "apps/v1" {
		t.Errorf("HPA targets %+v, want Deployment %s", ref, target)
	}
	if hpa.Spec.MinReplicas == nil {
		t.Fatal("HPA has no minReplicas")
	}
	if int64(*hpa.Spec.MinReplicas) != trig.Min || int64(hpa.Spec.MaxReplicas) != trig.Max {
		t.Errorf("HPA bounds %d..%d, want %d..%d", *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, trig.Min, trig.Max)
	}
	if len(hpa.Spec.Metrics) != 1 {
		t.Fatalf("HPA has %d metrics, want the one external metric of the nats-jetstream trigger: %+v", len(hpa.Spec.Metrics), hpa.Spec.Metrics)
	}
	m := hpa.Spec.Metrics[0]
	if m.Type != autoscalingv2.ExternalMetricSourceType || m.External == nil || m.External.Metric.Name != metric {
		t.Fatalf("HPA metric %+v, want External %s", m, metric)
	}
	tg := m.External.Target
	if tg.Type != autoscalingv2.AverageValueMetricType || tg.AverageValue == nil || tg.AverageValue.Value() != trig.LagThreshold {
		t.Errorf("HPA metric target %+v, want AverageValue %d (lagThreshold)", tg, trig.LagThreshold)
	}
	if sel := m.External.Metric.Selector; sel == nil || sel.MatchLabels["scaledobject.keda.sh/name"] != so.GetName() {
		t.Errorf("HPA metric selector %+v, want scaledobject.keda.sh/name=%s", sel, so.GetName())
	}
	b := hpa.Spec.Behavior
	if b == nil || b.ScaleUp == nil || b.ScaleDown == nil || len(b.ScaleUp.Policies) != 1 || len(b.ScaleDown.Policies) != 1 {
		t.Fatalf("HPA behavior %+v, want the ScaledObject's one scale-up and one scale-down policy", b)
	}
	wantBehavior, _, _ := unstructured.NestedMap(so.Object, "spec", "advanced", "horizontalPodAutoscalerConfig", "behavior")
	var want autoscalingv2.HorizontalPodAutoscalerBehavior
	raw, _ := json.Marshal(wantBehavior)
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(b)
	exp, _ := json.Marshal(&want)
	if string(got) != string(exp) {
		t.Errorf("HPA behavior %s, want the ScaledObject's %s", got, exp)
	}
	t.Logf("KEDA's HPA %s: Deployment %s, %d..%d replicas, External %s AverageValue %s, up %s, down %s", hpa.Name, ref.Name,
		*hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, metric, tg.AverageValue, policyString(b.ScaleUp), policyString(b.ScaleDown))
}

func policyString(r *autoscalingv2.HPAScalingRules) string {
	var parts []string
	for _, p := range r.Policies {
		parts = append(parts, fmt.Sprintf("%d %s per %d s", p.Value, p.Type, p.PeriodSeconds))
	}
	w := int32(0)
	if r.StabilizationWindowSeconds != nil {
		w = *r.StabilizationWindowSeconds
	}
	return fmt.Sprintf("%s, stabilization %d s", strings.Join(parts, "; "), w)
}

// externalMetric asks the API server for the external metric as the HPA
// controller does: /apis/external.metrics.k8s.io/v1beta1, which the
// aggregation layer proxies to KEDA's adapter, which asks the operator,
// which reads /jsz. It returns the sum of the items' values (the HPA sums
// them) in whole units.
func externalMetric(ctx context.Context, ns, name string, hpa *autoscalingv2.HorizontalPodAutoscaler) (int64, error) {
	sel, err := metav1.LabelSelectorAsSelector(hpa.Spec.Metrics[0].External.Metric.Selector)
	if err != nil {
		return 0, err
	}
	raw, err := shared.core.CoreV1().RESTClient().Get().
		AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, name).
		Param("labelSelector", sel.String()).DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, raw)
	}
	var list struct {
		Items []struct {
			MetricName string            `json:"metricName"`
			Value      resource.Quantity `json:"value"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return 0, fmt.Errorf("%w: %s", err, raw)
	}
	if len(list.Items) == 0 {
		return 0, fmt.Errorf("no items: %s", raw)
	}
	var sum int64
	for _, it := range list.Items {
		sum += it.Value.MilliValue()
	}
	return sum / 1000, nil
}

// waitMetric waits until the external metric reads want, and returns it.
func waitMetric(t *testing.T, ns, name string, hpa *autoscalingv2.HorizontalPodAutoscaler, want int64) int64 {
	t.Helper()
	var got int64
	waitFor(t, fmt.Sprintf("external metric %s = %d", name, want), 2*time.Minute, func() (bool, string) {
		v, err := externalMetric(t.Context(), ns, name, hpa)
		if err != nil {
			return false, err.Error()
		}
		got = v
		return v == want, fmt.Sprintf("reads %d", v)
	})
	t.Logf("external metric %s via the API server: %d", name, got)
	return got
}

// waitReplicas waits until the Deployment's spec.replicas is want.
func waitReplicas(t *testing.T, ns, name string, want int32) {
	t.Helper()
	waitFor(t, fmt.Sprintf("Deployment %s spec.replicas = %d", name, want), 3*time.Minute, func() (bool, string) {
		d, err := shared.core.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if d.Spec.Replicas == nil {
			return false, "unset"
		}
		return *d.Spec.Replicas == want, fmt.Sprintf("spec %d, status %d", *d.Spec.Replicas, d.Status.Replicas)
	})
}

// waitFor polls cond every 250 ms until it holds, failing the test with
// cond's last description after timeout or when a process of the chain
// exits.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, desc := cond()
		if ok {
			return
		}
		last = desc
		if gone := shared.exited(); len(gone) > 0 {
			t.Fatalf("%s: processes exited: %v (last: %s)", what, gone, last)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
		case <-tick.C:
		}
	}
}

// recorder keeps every value a Deployment's spec.replicas takes, from a
// watch (so no value between two polls is missed).
type recorder struct {
	mu     sync.Mutex
	values []int32
	// at is when each value was seen (observation only, never asserted).
	at []time.Time
}

func (r *recorder) add(v int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.values); n == 0 || r.values[n-1] != v {
		r.values = append(r.values, v)
		r.at = append(r.at, time.Now())
	}
}

// secondsSince returns, for each value since mark, the seconds between
// origin and when it was seen; the value current at mark counts as 0.
func (r *recorder) secondsSince(mark int, origin time.Time) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []float64{0}
	for _, at := range r.at[mark+1:] {
		out = append(out, float64(at.Sub(origin).Milliseconds())/1000)
	}
	return out
}

// mark returns a position in the record; since(mark) starts with the value
// current at that position.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(len(r.values)-1, 0)
}

func (r *recorder) since(mark int) []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int32(nil), r.values[mark:]...)
}

func (e *env) recordReplicas(t *testing.T, ns, name string) *recorder {
	t.Helper()
	r := &recorder{}
	d, err := e.core.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas != nil {
		r.add(*d.Spec.Replicas)
	}
	w, err := e.dyn.Resource(deployments).Namespace(ns).Watch(t.Context(), metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
		ResourceVersion: d.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Modified && ev.Type != watch.Added {
				continue
			}
			if o, ok := ev.Object.(*unstructured.Unstructured); ok {
				if v, found, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); found {
					r.add(int32(v))
				}
			}
		}
	}()
	return r
}
