package deploy_test

// The Kubernetes base is checked without a cluster: every manifest decodes strictly (unknown or duplicate fields
// fail) into the k8s.io/api types the API server would use, `kustomize build` renders it through kustomize's Go
// API, and the rendered objects are checked for what the deployment relies on: selectors that match their pods,
// probes on the ports the programs serve, non-root security contexts, secrets by reference, and a generated
// configuration that benchpipe's own loader accepts with exactly the environment the pod gets.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/benchpipe/benchpipe/config"
)

// k8sObjects holds decoded manifests by kind and name.
type k8sObjects struct {
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	pdbs         map[string]*policyv1.PodDisruptionBudget
}

// decodeK8s decodes one YAML document strictly into its typed object.
func decodeK8s(t *testing.T, where string, doc []byte, into *k8sObjects) {
	t.Helper()
	js, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	var meta metav1.TypeMeta
	if err := json.Unmarshal(js, &meta); err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	strict := func(v any) bool {
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s: %s: %v", where, meta.Kind, err)
			return false
		}
		return true
	}
	switch gvk := meta.APIVersion + "/" + meta.Kind; gvk {
	case "apps/v1/Deployment":
		var o appsv1.Deployment
		if strict(&o) {
			into.deployments[o.Name] = &o
		}
	case "apps/v1/StatefulSet":
		var o appsv1.StatefulSet
		if strict(&o) {
			into.statefulSets[o.Name] = &o
		}
	case "v1/Service":
		var o corev1.Service
		if strict(&o) {
			into.services[o.Name] = &o
		}
	case "v1/ConfigMap":
		var o corev1.ConfigMap
		if strict(&o) {
			into.configMaps[o.Name] = &o
		}
	case "policy/v1/PodDisruptionBudget":
		var o policyv1.PodDisruptionBudget
		if strict(&o) {
			into.pdbs[o.Name] = &o
		}
	default:
		t.Errorf("%s: unexpected kind %s", where, gvk)
	}
}

func newK8sObjects() *k8sObjects {
	return &k8sObjects{
		deployments:  map[string]*appsv1.Deployment{},
		statefulSets: map[string]*appsv1.StatefulSet{},
		services:     map[string]*corev1.Service{},
		configMaps:   map[string]*corev1.ConfigMap{},
		pdbs:         map[string]*policyv1.PodDisruptionBudget{},
	}
}

var yamlDocSep = regexp.MustCompile(`(?m)^---\s*$`)

// Each source manifest on its own, as `kubectl apply -f` would read it.
func TestK8sManifestsDecodeStrictly(t *testing.T) {
	dir := path(t, "deploy/k8s/base")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	objs := newK8sObjects()
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range yamlDocSep.Split(string(data), -1) {
			if strings.TrimSpace(stripYAMLComments(doc)) == "" {
				continue
			}
			n++
			decodeK8s(t, fmt.Sprintf("%s#%d", filepath.Base(f), i), []byte(doc), objs)
		}
	}
	if n < 6 {
		t.Errorf("decoded %d manifests, want at least 6", n)
	}
}

func stripYAMLComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// kustomizeBase renders deploy/k8s/base like `kustomize build deploy/k8s/base`.
func kustomizeBase(t *testing.T) *k8sObjects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), path(t, "deploy/k8s/base"))
	if err != nil {
		t.Fatalf("kustomize build deploy/k8s/base: %v", err)
	}
	objs := newK8sObjects()
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		decodeK8s(t, "rendered "+r.CurId().String(), y, objs)
	}
	return objs
}

func TestK8sKustomizeBuild(t *testing.T) {
	objs := kustomizeBase(t)
	sink := objs.deployments["benchpipe-sink"]
	pt := objs.statefulSets["benchpipe-perftarget"]
	if sink == nil || pt == nil {
		t.Fatalf("rendered base lacks the sink Deployment or the perftarget StatefulSet: %v %v", sink != nil, pt != nil)
	}

	// Sink: 2+ replicas in one consumer group, kept available during drains.
	if sink.Spec.Replicas == nil || *sink.Spec.Replicas < 2 {
		t.Errorf("sink replicas %v, want at least 2", sink.Spec.Replicas)
	}
	checkSelector(t, "sink Deployment", sink.Spec.Selector, sink.Spec.Template.Labels)
	pdb := objs.pdbs["benchpipe-sink"]
	if pdb == nil {
		t.Error("no PodDisruptionBudget for the sink")
	} else {
		checkSelector(t, "sink PodDisruptionBudget", pdb.Spec.Selector, sink.Spec.Template.Labels)
		if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
			t.Error("sink PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
		}
	}
	svc := objs.services["benchpipe-sink-metrics"]
	if svc == nil {
		t.Error("no metrics Service for the sink")
	} else {
		checkServiceSelects(t, svc, sink.Spec.Template)
	}
	checkPod(t, objs, "sink", sink.Spec.Template.Spec, map[string]string{"readiness": "/readyz", "liveness": "/healthz"})
	sc := sink.Spec.Template.Spec.Containers[0]
	for _, secretVar := range []string{"DATABASE_URL", "KAFKA_PASSWORD"} {
		i := slices.IndexFunc(sc.Env, func(e corev1.EnvVar) bool { return e.Name == secretVar })
		if i < 0 || sc.Env[i].Value != "" || sc.Env[i].ValueFrom == nil || sc.Env[i].ValueFrom.SecretKeyRef == nil {
			t.Errorf("sink %s must come from a Secret reference", secretVar)
		}
	}
	checkConfig(t, objs, "sink", sink.Spec.Template.Spec)

	// sink api: the sink's image and configuration with command api, both secrets by reference, a Service on the
	// port it listens on (fleet.api_addr) for Hasura.
	t.Run("sink-api", func(t *testing.T) {
		d := objs.deployments["benchpipe-sink-api"]
		if d == nil {
			t.Fatal("rendered base lacks the benchpipe-sink-api Deployment")
		}
		pod := d.Spec.Template.Spec
		checkSelector(t, "sink-api Deployment", d.Spec.Selector, d.Spec.Template.Labels)
		checkPod(t, objs, "sink", pod, map[string]string{"readiness": "/healthz", "liveness": "/healthz"})
		c := pod.Containers[0]
		if !slices.Equal(c.Args, []string{"api"}) {
			t.Errorf("sink-api args %v, want [api]", c.Args)
		}
		for _, secretVar := range []string{"DATABASE_URL", "BENCHPIPE_OPERATOR_TOKEN", "BENCHPIPE_ACTION_SECRET"} {
			i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == secretVar })
			if i < 0 || c.Env[i].Value != "" || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.SecretKeyRef == nil || c.Env[i].ValueFrom.SecretKeyRef.Optional != nil {
				t.Errorf("sink-api %s must come from a required Secret reference", secretVar)
				continue
			}
			// sink api only reads: its database URL is its own secret's (a read-only role), not the sink owner's.
			if ref := c.Env[i].ValueFrom.SecretKeyRef; secretVar == "DATABASE_URL" && ref.Name != "benchpipe-sink-api" {
				t.Errorf("sink-api DATABASE_URL comes from Secret %s, want benchpipe-sink-api (a read-only role, not the sink's owner)", ref.Name)
			}
		}
		cfg := checkConfig(t, objs, "sink-api", pod)
		svc := objs.services["benchpipe-sink-api"]
		if svc == nil {
			t.Fatal("no benchpipe-sink-api Service")
		}
		checkServiceSelects(t, svc, d.Spec.Template)
		if cfg != nil {
			_, port, _ := strings.Cut(cfg.Fleet.APIAddr, ":")
			if len(c.Ports) != 1 || fmt.Sprint(c.Ports[0].ContainerPort) != port || len(svc.Spec.Ports) != 1 || fmt.Sprint(svc.Spec.Ports[0].Port) != port {
				t.Errorf("sink-api listens on fleet.api_addr %q; container ports %v, Service ports %v", cfg.Fleet.APIAddr, c.Ports, svc.Spec.Ports)
			}
		}
		if svc.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("sink-api Service type %s: only Hasura, in the cluster, may reach it", svc.Spec.Type)
		}
		// compareRuns and runHistory read runs back from Hasura (issue 17).
		if cfg != nil && !strings.HasSuffix(cfg.GraphQL.URL, "/v1/graphql") {
			t.Errorf("sink-api graphql.url %q: want Hasura's GraphQL endpoint (…/v1/graphql)", cfg.GraphQL.URL)
		}
	})

	// Perftarget: a StatefulSet with a persistent JetStream store and Services selecting it.
	checkSelector(t, "perftarget StatefulSet", pt.Spec.Selector, pt.Spec.Template.Labels)
	if len(pt.Spec.VolumeClaimTemplates) != 1 {
		t.Errorf("perftarget: %d volumeClaimTemplates, want 1 for the JetStream store", len(pt.Spec.VolumeClaimTemplates))
	}
	headless := objs.services[pt.Spec.ServiceName]
	if headless == nil || headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("perftarget serviceName %q is not a headless Service of the base", pt.Spec.ServiceName)
	}
	for name, s := range objs.services {
		if strings.HasPrefix(name, "benchpipe-perftarget") {
			checkServiceSelects(t, s, pt.Spec.Template)
		}
	}
	checkPod(t, objs, "perftarget", pt.Spec.Template.Spec, map[string]string{"readiness": "/healthz", "liveness": "/healthz"})
	cfg := checkConfig(t, objs, "perftarget", pt.Spec.Template.Spec)
	if cfg != nil {
		mounted := false
		for _, vm := range pt.Spec.Template.Spec.Containers[0].VolumeMounts {
			if vm.Name == pt.Spec.VolumeClaimTemplates[0].Name && strings.HasPrefix(cfg.Perftarget.StoreDir, vm.MountPath+"/") {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("perftarget store_dir %s is not on the claim template's volume", cfg.Perftarget.StoreDir)
		}
	}
	if pt.Spec.Template.Spec.SecurityContext.FSGroup == nil {
		t.Error("perftarget: fsGroup unset; the non-root user could not write the volume")
	}
}

func checkSelector(t *testing.T, what string, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() || !s.Matches(labels.Set(podLabels)) {
		t.Errorf("%s: selector %v does not select its pods %v (%v)", what, sel, podLabels, err)
	}
}

func checkServiceSelects(t *testing.T, svc *corev1.Service, pod corev1.PodTemplateSpec) {
	t.Helper()
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
		t.Errorf("Service %s selects %v, not the pods %v", svc.Name, svc.Spec.Selector, pod.Labels)
	}
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.StrVal != "" && !slices.ContainsFunc(pod.Spec.Containers[0].Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.TargetPort.StrVal }) {
			t.Errorf("Service %s port %s targets %q, which the container does not name", svc.Name, p.Name, p.TargetPort.StrVal)
		}
	}
}

// checkPod: non-root, read-only, no privilege escalation, resources, and HTTP probes on named container ports.
func checkPod(t *testing.T, objs *k8sObjects, name string, spec corev1.PodSpec, probes map[string]string) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod must run as a non-root uid (runAsNonRoot, runAsUser)", name)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile RuntimeDefault missing", name)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken should be false (benchpipe does not call the API)", name)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", name, len(spec.Containers))
	}
	c := spec.Containers[0]
	csc := c.SecurityContext
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: container securityContext must forbid escalation, drop ALL capabilities, read-only root", name)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources must request cpu and memory and limit memory", name)
	}
	if !strings.HasPrefix(c.Image, "benchpipe/"+name+":") {
		t.Errorf("%s: image %q, want benchpipe/%s with the tag set by kustomize images", name, c.Image, name)
	}
	for kind, want := range probes {
		p := map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe}[kind]
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want {
			t.Errorf("%s: %s probe should GET %s", name, kind, want)
			continue
		}
		if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.HTTPGet.Port.StrVal }) {
			t.Errorf("%s: %s probe port %q is not a named container port", name, kind, p.HTTPGet.Port.String())
		}
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil && objs.configMaps[v.ConfigMap.Name] == nil {
			t.Errorf("%s: volume %s refers to ConfigMap %s, which the base does not render", name, v.Name, v.ConfigMap.Name)
		}
	}
}

// checkConfig loads the pod's benchpipe.yaml from its (generated) ConfigMap with the environment the container
// gets: every ${VAR} must be provided, and nothing secret may be written into the file.
func checkConfig(t *testing.T, objs *k8sObjects, name string, spec corev1.PodSpec) *config.Config {
	t.Helper()
	c := spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil {
			env[e.Name] = "from-secret"
			if strings.HasSuffix(e.Name, "DATABASE_URL") {
				env[e.Name] = "postgres://benchpipe:from-secret@timescaledb:5432/benchpipe"
			}
		}
	}
	var cmName, mountPath string
	for _, vm := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				cmName, mountPath = v.ConfigMap.Name, vm.MountPath
			}
		}
	}
	cm := objs.configMaps[cmName]
	if cm == nil {
		t.Errorf("%s: no configuration ConfigMap mounted", name)
		return nil
	}
	if !regexp.MustCompile(`-[a-z0-9]{10}$`).MatchString(cmName) {
		t.Errorf("%s: ConfigMap %s has no content hash suffix; config changes would not roll the pods", name, cmName)
	}
	if env["BENCHPIPE_CONFIG"] != mountPath+"/benchpipe.yaml" || cm.Data["benchpipe.yaml"] == "" {
		t.Errorf("%s: BENCHPIPE_CONFIG %q does not name benchpipe.yaml of the ConfigMap mounted at %s", name, env["BENCHPIPE_CONFIG"], mountPath)
		return nil
	}
	file := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(file, []byte(cm.Data["benchpipe.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	return parseConfig(t, file, env)
}
