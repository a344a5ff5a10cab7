{{/*
Names. Every resource is named from the release, so several releases (one per Datadog org) live side by side.
*/}}
{{- define "baton-datadog.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "baton-datadog.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "baton-datadog.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Recommended labels (https://helm.sh/docs/chart_best_practices/labels/). */}}
{{- define "baton-datadog.labels" -}}
{{ include "baton-datadog.chartLabels" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The labels the chart itself puts on every resource; values may add labels, never replace these. */}}
{{- define "baton-datadog.chartLabels" -}}
helm.sh/chart: {{ include "baton-datadog.chart" . }}
{{ include "baton-datadog.baseLabels" . }}
{{- /* A tag may be 128 characters and end in '.', '-' or '_'; a label value may not. */}}
app.kubernetes.io/version: {{ include "baton-datadog.imageTag" . | trunc 63 | trimAll "-._" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/part-of: baton
{{- end }}

{{- define "baton-datadog.baseLabels" -}}
app.kubernetes.io/name: {{ include "baton-datadog.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/* The connector pods (and only them: the `helm test` pod has another component, so no ReplicaSet adopts it). */}}
{{- define "baton-datadog.selectorLabels" -}}
{{ include "baton-datadog.baseLabels" . }}
app.kubernetes.io/component: connector
{{- end }}

{{- define "baton-datadog.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "baton-datadog.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "baton-datadog.secretName" -}}
{{- default (include "baton-datadog.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "baton-datadog.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "baton-datadog.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "baton-datadog.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
The connector setting each `config` value sets: value key -> environment variable. The names are the settings
model's (`connector/daemon/settings.py`, BATON_ + field name); tests/deploy checks every rendered BATON_* name
against that model.
*/}}
{{- define "baton-datadog.settingEnvNames" -}}
site: BATON_SITE
provisioning: BATON_PROVISIONING
syncSchedules: BATON_SYNC_SCHEDULES
syncSecrets: BATON_SYNC_SECRETS
syncServiceAccountApplicationKeys: BATON_SYNC_SERVICE_ACCOUNT_APPLICATION_KEYS
allowOrgApiKeyDeletion: BATON_ALLOW_ORG_API_KEY_DELETION
syncResourceTypes: BATON_SYNC_RESOURCE_TYPES
syncResources: BATON_SYNC_RESOURCES
skipEntitlementsAndGrants: BATON_SKIP_ENTITLEMENTS_AND_GRANTS
skipGrants: BATON_SKIP_GRANTS
skipFullSync: BATON_SKIP_FULL_SYNC
taskConcurrency: BATON_TASK_CONCURRENCY
datadogConcurrency: BATON_DATADOG_CONCURRENCY
httpTimeoutSeconds: BATON_HTTP_TIMEOUT_SECONDS
syncInterval: BATON_SYNC_INTERVAL
file: BATON_FILE
c1zTempDir: BATON_C1Z_TEMP_DIR
shutdownGraceSeconds: BATON_SHUTDOWN_GRACE_SECONDS
backoffScale: BATON_BACKOFF_SCALE
readyWindowSeconds: BATON_READY_WINDOW_SECONDS
logLevel: BATON_LOG_LEVEL
logFormat: BATON_LOG_FORMAT
healthCheck: BATON_HEALTH_CHECK
healthCheckBindAddress: BATON_HEALTH_CHECK_BIND_ADDRESS
healthCheckPort: BATON_HEALTH_CHECK_PORT
requireServiceMode: BATON_REQUIRE_SERVICE_MODE
caBundle: BATON_CA_BUNDLE
c1ApiHost: BATON_C1_API_HOST
baseUrl: BATON_BASE_URL
{{- end }}

{{/* The `config` values as EnvVars. A null, empty string or empty list is left out, so a Secret (envFrom) or the connector's default decides; `env` would win over envFrom. Lists are JSON, which the settings model parses. */}}
{{- define "baton-datadog.configEnv" -}}
{{- $names := include "baton-datadog.settingEnvNames" . | fromYaml }}
{{- $config := deepCopy .Values.config }}
{{- /* What the pod spec is built on is rendered even when null: else a Secret (or the connector's loopback default
bind address) could move or stop the server the probes, the Service and the NetworkPolicy point at, or make the
shutdown grace outlast terminationGracePeriodSeconds (SIGKILL mid-task). */}}
{{- range $key, $value := dict "healthCheck" true "healthCheckBindAddress" "0.0.0.0" "healthCheckPort" 8081 "shutdownGraceSeconds" 25 }}
{{- if kindIs "invalid" (index $config $key) }}
{{- $_ := set $config $key $value }}
{{- end }}
{{- end }}
{{- range $key, $value := $config }}
{{- $env := get $names $key }}
{{- if not $env }}
{{- fail (printf "config.%s is not a connector setting" $key) }}
{{- end }}
{{- if not (or (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value "")) (and (kindIs "slice" $value) (empty $value))) }}
- name: {{ $env }}
  {{- if kindIs "slice" $value }}
  value: {{ toJson $value | quote }}
  {{- else if and (kindIs "float64" $value) (eq $value (float64 (int64 $value))) }}
  {{- /* Helm reads every number of a values file as a float, which prints as 3.16224e+07 from 1e6 on: not an integer to the settings model. */}}
  value: {{ int64 $value | toString | quote }}
  {{- else }}
  value: {{ toString $value | quote }}
  {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* PromQL label matchers for this release's series. */}}
{{- define "baton-datadog.promSelector" -}}
{{- default (printf "namespace=%q, job=%q" .Release.Namespace (include "baton-datadog.fullname" .)) .Values.prometheusRule.selector }}
{{- end }}

{{/* Checks on combinations of values that the schema cannot express. */}}
{{- define "baton-datadog.validate" -}}
{{- $fullname := include "baton-datadog.fullname" . }}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $fullname) }}
{{- fail (printf "the resource name %q made from the release name %q is not a DNS-1035 label (a Service name: lower case, digits and '-', starting with a letter): set fullnameOverride" $fullname .Release.Name) }}
{{- end }}
{{- /* Values chart 0.1.0 had under other names: a values file kept from it (`helm show values` of that chart, or
the docs of then) is upgraded with `helm upgrade -f`; the schema lets these keys through only so that this names
what they are now, where an unknown key's refusal says only "additional properties not allowed". */}}
{{- range $old, $new := dict "healthPort" "healthCheckPort" "healthBindAddress" "healthCheckBindAddress" }}
{{- if hasKey $.Values.config $old }}
{{- fail (printf "config.%s is chart 0.1.0's name: since chart 0.2.0 it is config.%s; rename it in your values" $old $new) }}
{{- end }}
{{- end }}
{{- range $probe := list "startupProbe" "livenessProbe" "readinessProbe" }}
{{- if hasKey (get $.Values $probe | default dict) "path" }}
{{- fail (printf "%s.path is a value of chart 0.1.0: since chart 0.2.0 the probes use the daemon's own paths (/healthz for startup and liveness, /readyz for readiness); remove it from your values" $probe) }}
{{- end }}
{{- end }}
{{- $grace := 25.0 }}
{{- if not (kindIs "invalid" .Values.config.shutdownGraceSeconds) }}
{{- $grace = float64 .Values.config.shutdownGraceSeconds }}
{{- end }}
{{- /* After the grace the connector still reports the tasks it abandoned, for up to 5 s (connector/baton/runtime/
scheduler.py, Scheduler.drain; tests/deploy/checks.py reads the number from there): a SIGKILL in that window loses
those reports. */}}
{{- if lt (float64 .Values.terminationGracePeriodSeconds) (addf $grace 5) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least config.shutdownGraceSeconds (%v) + 5: after the grace the connector reports the tasks it abandoned (up to 5 s), and the kubelet kills the pod when the period runs out" (int64 .Values.terminationGracePeriodSeconds) $grace) }}
{{- end }}
{{- if eq (include "baton-datadog.healthPort" . | int) 0 }}
{{- fail "config.healthCheckPort must not be 0: the probes and /metrics need a known port" }}
{{- end }}
{{- if eq (toString .Values.config.healthCheck) "false" }}
{{- fail "config.healthCheck must not be false: the probes and /metrics need the health server" }}
{{- end }}
{{- /* A variable in `env` twice: Kubernetes keeps the last without a word (a config value silently lost to
extraEnv), the API server only warns, and a later apply's merge by name may drop both. */}}
{{- $names := include "baton-datadog.settingEnvNames" . | fromYaml }}
{{- $chartSets := dict "BATON_HOST_ID" "the chart (each pod's own name)" }}
{{- range (include "baton-datadog.configEnv" . | fromYamlArray) }}
{{- $envName := .name }}
{{- range $key, $env := $names }}
{{- if eq $env $envName }}
{{- $_ := set $chartSets $envName (printf "config.%s" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- $secretKeys := dict "clientId" "BATON_CLIENT_ID" "clientSecret" "BATON_CLIENT_SECRET" "apiKey" "BATON_API_KEY" "appKey" "BATON_APP_KEY" }}
{{- /* Of those, the secrets (the connector's SecretStr settings, connector/daemon/settings.py SECRETS): the client id
is none, and a ConfigMap may hold it. */}}
{{- $secretSettings := list "BATON_API_KEY" "BATON_APP_KEY" "BATON_CLIENT_SECRET" }}
{{- range $key, $env := $secretKeys }}
{{- if get $.Values.secret $key }}
{{- if $.Values.existingSecret }}
{{- fail (printf "secret.%s and existingSecret are both set: with existingSecret the chart renders no Secret, so secret.%s would be ignored; set one of them" $key $key) }}
{{- end }}
{{- $_ := set $chartSets $env (printf "secret.%s" $key) }}
{{- end }}
{{- end }}
{{- /* existingSecret naming the chart's own Secret (the name it renders without existingSecret) stops the chart
rendering it, and Helm deletes at an upgrade what the release no longer renders: existingSecret set to the name
`kubectl get secrets` shows deleted the credentials from the cluster. Refused only when that is what would happen:
the name is the chart's own (the chart renders no Secret of any other name, so Helm deletes no other: a renamed copy,
a parent chart's Secret or an ExternalSecret's target carrying this release's annotations are taken), Helm's
annotations on it, as the cluster has it (`lookup`, so never where the chart is rendered without the cluster: helm
template, Argo CD), say this release made it, and no `helm.sh/resource-policy: keep` stops Helm deleting it. Read
for its annotations only; at an install nothing is deleted (one left by an earlier release of this name is simply
taken). Not serviceAccount.name with create: false, the same trap: Helm's lookup fails the whole render on a
Forbidden, and create: false is what an installer that may not touch ServiceAccounts sets (its Secrets Helm itself
needs: they hold the release). */}}
{{- if and .Release.IsUpgrade (eq (toString .Values.existingSecret) $fullname) }}
{{- $found := lookup "v1" "Secret" .Release.Namespace $fullname | default dict }}
{{- $annotations := ($found.metadata | default dict).annotations | default dict }}
{{- /* A Secret a controller owns (External Secrets' target, which copies its ExternalSecret's annotations, Helm's
included, onto the Secret it makes) is that controller's: this chart never rendered it, so Helm deletes nothing. */}}
{{- $controlled := false }}
{{- range (($found.metadata | default dict).ownerReferences | default list) }}
{{- if and (kindIs "map" .) (eq (toString (get . "controller")) "true") }}
{{- $controlled = true }}
{{- end }}
{{- end }}
{{- /* Helm reads the policy from the object in the cluster, as this does, and skips the delete on "keep" exactly. */}}
{{- if and (not $controlled) (eq (toString (get $annotations "meta.helm.sh/release-name")) .Release.Name) (eq (toString (get $annotations "meta.helm.sh/release-namespace")) .Release.Namespace) (ne (toString (get $annotations "helm.sh/resource-policy")) "keep") }}
{{- fail (printf "existingSecret names the Secret %q, which this release made: with existingSecret the chart no longer renders it, so Helm would delete it at this upgrade, the credentials would be gone from the cluster, and every pod started after that would stay in CreateContainerConfigError; copy it to a Secret of another name and give that name, keep it (kubectl annotate secret %s helm.sh/resource-policy=keep: Helm deletes no Secret annotated so; do that too if the release's last revision did not render it, as after restoring it from a backup, which this check cannot see), or leave existingSecret empty and let the chart go on making it" (toString .Values.existingSecret) (toString .Values.existingSecret)) }}
{{- end }}
{{- end }}
{{- /* Kubernetes takes a container's security field over the pod's: a field set in both, to different values,
left the pod's silently ignored (a platform's UID given as podSecurityContext.runAsUser, and the pod still ran as
the container's 65532). */}}
{{- $containerSecurity := include "baton-datadog.containerSecurityContext" . | fromYaml }}
{{- range $key, $podValue := .Values.podSecurityContext | default dict }}
{{- $containerValue := get $containerSecurity $key }}
{{- if and (not (kindIs "invalid" $podValue)) (hasKey $containerSecurity $key) (ne (toJson $podValue) (toJson $containerValue)) }}
{{- fail (printf "podSecurityContext.%s is %s but securityContext.%s is %s: Kubernetes runs the container with the latter and ignores the former; set %s in one of them (the identity in podSecurityContext, the seccomp profile in securityContext), or the same in both" $key (toJson $podValue) $key (toJson $containerValue) $key) }}
{{- end }}
{{- end }}
{{- /* The API server refuses a container whose request is above its limit: raising only requests.memory past the
default limit rendered fine and failed at install (the test pod's, at `helm test`). */}}
{{- range $where, $resources := dict "resources" .Values.resources "tests.resources" .Values.tests.resources }}
{{- $limits := ($resources | default dict).limits | default dict }}
{{- range $name, $request := ($resources | default dict).requests | default dict }}
{{- $limit := index $limits $name }}
{{- if and (hasKey $limits $name) (not (kindIs "invalid" $request)) (not (kindIs "invalid" $limit)) }}
{{- if gt (include "baton-datadog.quantity" $request | float64) (include "baton-datadog.quantity" $limit | float64) }}
{{- fail (printf "%s.requests.%s (%v) is above %s.limits.%s (%v), which the API server refuses: raise the limit too" $where $name $request $where $name $limit) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- /* /tmp holds the working sync files (BATON_C1Z_TEMP_DIR). A zero limit has the kubelet evict the pod at the
first file a sync writes; a memory-backed /tmp counts against the memory limit, so files past it get the container
OOM-killed mid-sync (a restart loop, never the "disk full" the connector reports) before the tmpfs is full. */}}
{{- $tmpSize := .Values.tmpVolume.sizeLimit }}
{{- if and (not (kindIs "invalid" $tmpSize)) (eq (include "baton-datadog.quantity" $tmpSize | float64) 0.0) }}
{{- fail (printf "tmpVolume.sizeLimit is 0 (%v): the kubelet would evict the pod at the first working file a sync writes to /tmp; set a size, or null for no limit" $tmpSize) }}
{{- end }}
{{- if eq (toString .Values.tmpVolume.medium) "Memory" }}
{{- $memoryLimit := ((.Values.resources | default dict).limits | default dict).memory }}
{{- if kindIs "invalid" $tmpSize }}
{{- fail "tmpVolume.medium is Memory but tmpVolume.sizeLimit is not set: the working sync files would grow in memory until resources.limits.memory or the node's memory runs out; set tmpVolume.sizeLimit below resources.limits.memory, or use the node's disk (medium \"\")" }}
{{- end }}
{{- if and (not (kindIs "invalid" $memoryLimit)) (ge (include "baton-datadog.quantity" $tmpSize | float64) (include "baton-datadog.quantity" $memoryLimit | float64)) }}
{{- fail (printf "tmpVolume.medium is Memory and tmpVolume.sizeLimit (%v) is not below resources.limits.memory (%v): the working sync files count against that limit, so the container would be OOM-killed mid-sync before /tmp is full; set tmpVolume.sizeLimit below it (leaving the process room), raise the limit, or use the node's disk (medium \"\")" $tmpSize $memoryLimit) }}
{{- end }}
{{- end }}
{{- if and (not .Values.serviceAccount.create) .Values.serviceAccount.annotations }}
{{- fail "serviceAccount.annotations are set but serviceAccount.create is false: the chart renders no ServiceAccount to annotate" }}
{{- end }}
{{- if and .Values.existingSecret .Values.secret.annotations }}
{{- fail "secret.annotations and existingSecret are both set: with existingSecret the chart renders no Secret to annotate" }}
{{- end }}
{{- /* The chart's own /tmp volume and mount: a second volume of that name or a second mount on /tmp is refused by
the API server only at install, and a hostPath volume breaks Pod Security Standard "restricted". */}}
{{- $volumes := dict "tmp" "the chart (the /tmp emptyDir)" }}
{{- /* What the pod can write on each volume: the kubelet mounts configMap, secret, downwardAPI and projected volumes
read-only whatever the mount says, and an emptyDir is empty when the pod starts (no directory below its mount point
but those a subPath makes). */}}
{{- $volumeKinds := dict "tmp" (dict "readOnly" false "empty" true) }}
{{- range $i, $volume := .Values.extraVolumes }}
{{- $name := toString $volume.name }}
{{- if hasKey $volumes $name }}
{{- fail (printf "extraVolumes[%d] is named %q, which %s already uses: pick another name" $i $name (get $volumes $name)) }}
{{- end }}
{{- /* Its type: the fields not null. A null one beside the real type (`configMap: null` by `emptyDir: {}`, what tools
that fill every field write) is dropped by the API server: the volume is not of that type. With none left
(`{name: work}`, or `emptyDir:` with no value, which YAML reads as null) the API server makes it `emptyDir: {}`
(SetDefaults_Volume): an emptyDir, for every check below. */}}
{{- $types := list }}
{{- range $type, $source := omit $volume "name" }}
{{- if not (kindIs "invalid" $source) }}{{ $types = append $types $type }}{{ end }}
{{- end }}
{{- if not $types }}{{ $types = list "emptyDir" }}{{ end }}
{{- range $type := $types | sortAlpha }}
{{- if not (has $type (list "configMap" "csi" "downwardAPI" "emptyDir" "ephemeral" "persistentVolumeClaim" "projected" "secret")) }}
{{- fail (printf "extraVolumes[%d] (%s) is a %s volume: Pod Security Standard \"restricted\" allows only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret" $i $name $type) }}
{{- end }}
{{- end }}
{{- $_ := set $volumes $name (printf "extraVolumes[%d]" $i) }}
{{- $readOnly := false }}
{{- range $type := list "configMap" "secret" "downwardAPI" "projected" }}
{{- if has $type $types }}{{ $readOnly = true }}{{ end }}
{{- end }}
{{- range $type := list "persistentVolumeClaim" "csi" }}
{{- if eq (toString ((get $volume $type | default dict).readOnly)) "true" }}{{ $readOnly = true }}{{ end }}
{{- end }}
{{- $_ := set $volumeKinds $name (dict "readOnly" $readOnly "empty" (has "emptyDir" $types)) }}
{{- end }}
{{- $mounts := dict "/tmp" "the chart (the /tmp emptyDir)" }}
{{- $mountKinds := dict "/tmp" (dict "where" "the chart's /tmp" "volume" "tmp" "readOnly" false "empty" true "subPath" "" "subPathExpr" false) }}
{{- $programPaths := include "baton-datadog.programPaths" . | fromYaml }}
{{- range $i, $mount := .Values.extraVolumeMounts }}
{{- /* The path as the runtime takes it: runc refuses a relative one ("mount destination ... not absolute"; the API
server lets it through) and the pod never starts; and it resolves a '..' component by component through the image's
links (/lib64/../local/lib is /usr/local/lib, merged-usr's /lib64 being /usr/lib64), which a text clean does not
(/local/lib): every check below would read another path than the one mounted. */}}
{{- $given := toString $mount.mountPath }}
{{- if not (hasPrefix "/" $given) }}
{{- fail (printf "extraVolumeMounts[%d] mountPath %q is not an absolute path: the container runtime refuses it and the pod never starts; give the full path, e.g. /etc/baton" $i $given) }}
{{- end }}
{{- if has ".." (splitList "/" $given) }}
{{- fail (printf "extraVolumeMounts[%d] mountPath %q has a '..' segment: the container runtime resolves it through the image's links (/lib64 is /usr/lib64), so it may land elsewhere than it reads; give the path without '..'" $i $given) }}
{{- end }}
{{- /* Compared cleaned: the API server compares the text, so /tmp// passed as another path than /tmp, and the
runtime mounted both on /tmp. */}}
{{- $path := clean (toString $mount.mountPath) }}
{{- if hasKey $mounts $path }}
{{- fail (printf "extraVolumeMounts[%d] mounts on %s, where %s already mounts" $i $path (get $mounts $path)) }}
{{- end }}
{{- if not (hasKey $volumes (toString $mount.name)) }}
{{- fail (printf "extraVolumeMounts[%d] mounts volume %q, which is neither in extraVolumes nor the chart's tmp" $i (toString $mount.name)) }}
{{- end }}
{{- $kind := get $volumeKinds (toString $mount.name) }}
{{- $subPath := trimPrefix "/" (clean (printf "/%s" (toString ($mount.subPath | default "")))) }}
{{- $subPathExpr := not (empty $mount.subPathExpr) }}
{{- /* A mount on one of the program's paths (programPaths), on a directory above one, or inside one hides it, and
the container cannot start (no such file, or Python without its standard library), with no line of the connector to
say why: a CrashLoopBackOff for a mount meant for a CA file. The runtime mounts through merged-usr's links (/lib is
/usr/lib). Inside one, a mount with subPath puts only the entry it names there: one file, e.g. certifi's bundle
replaced, hides that file only, and from a volume other than an emptyDir (whose subPath the kubelet makes a
directory) the chart cannot tell a file from a directory, so it takes it where programPaths says a file there is
data (oneFile, less the names the program runs from: runs); never in place of the interpreter, its link, the
venv's entrypoint or pyvenv.cfg, the loader, the standard library or a module. */}}
{{- $resolved := $path }}
{{- range $link, $target := dict "/bin" "/usr/bin" "/lib" "/usr/lib" "/lib64" "/usr/lib64" "/sbin" "/usr/sbin" }}
{{- if or (eq $path $link) (hasPrefix (printf "%s/" $link) $path) }}{{ $resolved = printf "%s%s" $target (trimPrefix $link $path) }}{{ end }}
{{- end }}
{{- $oneEntry := and (or $subPath $subPathExpr) (not $kind.empty) }}
{{- range $program := keys $programPaths | sortAlpha }}
{{- $entry := get $programPaths $program }}
{{- $inside := hasPrefix (printf "%s/" $program) $resolved }}
{{- $within := trimPrefix (printf "%s/" $program) $resolved }}
{{- $data := and $inside $oneEntry $entry.oneFile (regexMatch (toString $entry.oneFile) $within) (not (regexMatch (toString $entry.runs) $within)) }}
{{- if or (eq $resolved "/") (eq $resolved $program) (hasPrefix (printf "%s/" $resolved) $program) (and $inside (not $data)) }}
{{- fail (printf "extraVolumeMounts[%d] mounts on %s, which hides the image's %s (%s): the container could not start; mount it beside them, e.g. under /etc or /tmp (inside one, with subPath, only one data file, e.g. a package's bundle below the venv's site-packages)" $i $path $program $entry.what) }}
{{- end }}
{{- end }}
{{- $_ := set $mounts $path (printf "extraVolumeMounts[%d]" $i) }}
{{- $_ := set $mountKinds $path (dict "where" (printf "extraVolumeMounts[%d], mounted on %s" $i $path) "volume" (toString $mount.name) "readOnly" (or $kind.readOnly (eq (toString $mount.readOnly) "true")) "empty" $kind.empty "subPath" $subPath "subPathExpr" $subPathExpr) }}
{{- end }}
{{- /* The connector writes its working files in c1zTempDir and the periodic sync's beside file, and refuses at start
a directory it cannot write (exit 2 at every restart: CrashLoopBackOff). The root filesystem is read-only, so each
must be on a writable volume, the deepest one holding it deciding; below an emptyDir's mount point (/tmp itself
included) nothing exists when the pod starts: `c1zTempDir: /tmp/baton` rendered, and the connector refused it. A
directory below a persistent volume's mount point may be there: that is the volume's business. Given as config
values or as extraEnv entries (plainSetting): the schema's /tmp rule covers the former only. */}}
{{- $workdirs := list }}
{{- with include "baton-datadog.plainSetting" (list . "c1zTempDir") | fromJson }}
{{- $path := include "baton-datadog.podPath" .value }}
{{- $workdirs = append $workdirs (list (printf "%s is %s" .what $path) $path) }}
{{- end }}
{{- with include "baton-datadog.plainSetting" (list . "file") | fromJson }}
{{- $path := dir (include "baton-datadog.podPath" .value) }}
{{- $workdirs = append $workdirs (list (printf "%s is in %s" .what $path) $path) }}
{{- end }}
{{- range $workdirs }}
{{- $what := index . 0 }}
{{- $path := index . 1 }}
{{- $kind := include "baton-datadog.volumeHolding" (list $mountKinds $path) | fromJson }}
{{- if not $kind }}
{{- fail (printf "%s, which is on the read-only root filesystem: the connector writes its working files there and refuses a directory it cannot write; use /tmp, or a writable volume mounted at that path (extraVolumes, extraVolumeMounts)" $what) }}
{{- end }}
{{- if $kind.readOnly }}
{{- fail (printf "%s, which is on the read-only volume %q (%s): the connector writes its working files there and refuses a directory it cannot write (the kubelet mounts configMap, secret, downwardAPI and projected volumes read-only, and readOnly makes any other so); use /tmp, or a writable volume" $what $kind.volume $kind.where) }}
{{- end }}
{{- $atStart := include "baton-datadog.missingAtStart" (list $mountKinds $path) }}
{{- if eq $atStart "missing" }}
{{- fail (printf "%s, which does not exist in the pod: %s is an emptyDir, empty when the pod starts, and the connector refuses a directory that is not there; use %s itself, or mount a volume at that path (extraVolumes, extraVolumeMounts)" $what $kind.mount $kind.mount) }}
{{- end }}
{{- if eq $atStart "runtime" }}
{{- fail (printf "%s, which the container runtime makes in the emptyDir on %s as the directory of another mount's mount point: root's, mode 0755, so the connector cannot write it and refuses it at every start; use %s itself, or mount a volume at that path (extraVolumes, extraVolumeMounts)" $what $kind.mount $kind.mount) }}
{{- end }}
{{- end }}
{{- /* The files and directories the connector reads at start (refusing one that is not there, at every start): below
an emptyDir's mount point, /tmp's included, no file is there when the pod starts, and no directory but those a subPath
makes. `caBundle: /tmp/ca.pem` without a volume for it rendered a pod that never started. On the root filesystem it
may be the image's own (its CA bundle). The variables are the ones connector/baton/netenv.py checks at start
(_PATH_VARIABLES; SSL_CERT_DIR a list, as OpenSSL reads it) and the config file; tests/independent/deploy3 renders
each of netenv's. */}}
{{- $readPaths := list }}
{{- with include "baton-datadog.plainSetting" (list . "caBundle") | fromJson }}
{{- $readPaths = append $readPaths (list .what (include "baton-datadog.podPath" .value) "file") }}
{{- end }}
{{- $readAtStart := dict "BATON_CONFIG_PATH" "file" "SSL_CERT_FILE" "file" "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" "file" "SSL_CERT_DIR" "directories" }}
{{- range .Values.extraEnv }}
{{- $envName := toString .name }}
{{- $read := get $readAtStart $envName }}
{{- if and $read .value }}
{{- $entries := eq $read "file" | ternary (list (toString .value)) (splitList ":" (toString .value)) }}
{{- range $entry := $entries }}
{{- if $entry }}
{{- $readPaths = append $readPaths (list (printf "extraEnv %s" $envName) (include "baton-datadog.podPath" $entry) (eq $read "file" | ternary "file" "directory")) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- range $readPaths }}
{{- $path := index . 1 }}
{{- $isFile := eq (index . 2) "file" }}
{{- $kind := include "baton-datadog.volumeHolding" (list $mountKinds $path) | fromJson }}
{{- if or (and $isFile $kind $kind.empty) (and (not $isFile) (eq (include "baton-datadog.missingAtStart" (list $mountKinds $path)) "missing")) }}
{{- fail (printf "%s is %s, which does not exist in the pod: %s is an emptyDir, empty when the pod starts, and the connector refuses a %s that is not there; mount the volume that holds it (extraVolumes, e.g. a ConfigMap, and extraVolumeMounts) at a path of its own" (index . 0) $path $kind.mount (index . 2)) }}
{{- end }}
{{- end }}
{{- /* A label or annotation key given in values that the chart also sets: the rendered YAML had the key twice,
the API keeps one of them without a word, and a pod label replacing a selector label fails the Deployment. */}}
{{- $chartLabels := include "baton-datadog.chartLabels" . | fromYaml }}
{{- $_ := set $chartLabels "app.kubernetes.io/component" "connector" }}
{{- include "baton-datadog.noClash" (list "commonLabels" .Values.commonLabels $chartLabels "the chart") }}
{{- $allLabels := merge (deepCopy (.Values.commonLabels | default dict)) $chartLabels }}
{{- include "baton-datadog.noClash" (list "podLabels" .Values.podLabels $allLabels "the chart or commonLabels") }}
{{- include "baton-datadog.noClash" (list "serviceMonitor.labels" .Values.serviceMonitor.labels $allLabels "the chart or commonLabels") }}
{{- include "baton-datadog.noClash" (list "prometheusRule.labels" .Values.prometheusRule.labels $allLabels "the chart or commonLabels") }}
{{- include "baton-datadog.noClash" (list "dashboard.labels" .Values.dashboard.labels $allLabels "the chart or commonLabels") }}
{{- /* Grafana's sidecar finds dashboards by label: with none of its own (commonLabels count, as the clash check above
sends a sidecar label already in commonLabels there), the ConfigMap is one nothing loads. */}}
{{- if and .Values.dashboard.enabled (not (or .Values.commonLabels .Values.dashboard.labels)) }}
{{- fail "dashboard.labels: the dashboard needs a label Grafana's sidecar looks for (e.g. grafana_dashboard: \"1\"), here or in commonLabels" }}
{{- end }}
{{- include "baton-datadog.noClash" (list "prometheusRule.additionalLabels" .Values.prometheusRule.additionalLabels (dict "severity" "") "each alert") }}
{{- if not .Values.existingSecret }}
{{- include "baton-datadog.noClash" (list "podAnnotations" .Values.podAnnotations (dict "checksum/secret" "") "the chart (it rolls the pods when secret.* changes)") }}
{{- end }}
{{- if .Values.metricsAnnotations.enabled }}
{{- $scrape := dict "prometheus.io/scrape" "" "prometheus.io/port" "" "prometheus.io/path" "" "prometheus.io/scheme" "" }}
{{- include "baton-datadog.noClash" (list "service.annotations" .Values.service.annotations $scrape "metricsAnnotations.enabled (set it to false to write them yourself)") }}
{{- end }}
{{- $rolling := .Values.updateStrategy.rollingUpdate | default dict }}
{{- if and (eq .Values.updateStrategy.type "RollingUpdate") (hasKey $rolling "maxSurge") (hasKey $rolling "maxUnavailable") }}
{{- if and (has (toString $rolling.maxSurge) (list "0" "0%")) (has (toString $rolling.maxUnavailable) (list "0" "0%")) }}
{{- fail "updateStrategy.rollingUpdate.maxSurge and maxUnavailable are both 0: a rollout could never replace a pod (the API server refuses it)" }}
{{- end }}
{{- end }}
{{- /* maxUnavailable 0 (or 0%) lets the eviction API take no pod at all: every drain of the node (an upgrade, the
autoscaler's scale-down) waits on the connector for good. */}}
{{- if and .Values.podDisruptionBudget.enabled (has (toString .Values.podDisruptionBudget.maxUnavailable) (list "0" "0%")) }}
{{- fail (printf "podDisruptionBudget.maxUnavailable is %v: no pod could ever be evicted, so every drain of its node would wait for good; use 1 (or disable the budget)" .Values.podDisruptionBudget.maxUnavailable) }}
{{- end }}
{{- if .Values.serviceMonitor.enabled }}
{{- $interval := include "baton-datadog.milliseconds" .Values.serviceMonitor.interval | int64 }}
{{- $timeout := include "baton-datadog.milliseconds" .Values.serviceMonitor.scrapeTimeout | int64 }}
{{- if gt $timeout $interval }}
{{- fail (printf "serviceMonitor.scrapeTimeout (%s) must not exceed serviceMonitor.interval (%s): Prometheus refuses the scrape config" .Values.serviceMonitor.scrapeTimeout .Values.serviceMonitor.interval) }}
{{- end }}
{{- /* Prometheus reads a gauge's value from the last 5 minutes only (its lookback delta): scraped every 5 minutes or
more, baton_datadog_ready and up vanish between scrapes, so BatonDatadogConductorOneUnreachable's `for` starts over
at every gap and never fires, BatonDatadogDown's absent(up) pages while every scrape succeeds, and the 10-minute
rate() windows hold fewer than the two samples they need. */}}
{{- if and .Values.prometheusRule.enabled (ge $interval 300000) }}
{{- fail (printf "serviceMonitor.interval (%s) must be under 5m with prometheusRule.enabled: Prometheus forgets a series not scraped for 5 minutes, so between scrapes the alerts would see no baton_datadog_ready or up (BatonDatadogConductorOneUnreachable never fires, BatonDatadogDown pages while every scrape succeeds)" .Values.serviceMonitor.interval) }}
{{- end }}
{{- end }}
{{- if .Values.networkPolicy.enabled }}
{{- include "baton-datadog.egressPortsAllowed" . }}
{{- end }}
{{- /* The alerts' default selector is the job label this chart's ServiceMonitor gives (the Service name). Scraped
another way (annotations, a scrape config of one's own) or with the job relabelled, the series carry another job:
BatonDatadogDown's absent(up{...}) then pages for good and every other alert sees nothing. */}}
{{- if and .Values.prometheusRule.enabled (not .Values.prometheusRule.selector) (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}
{{- if not .Values.serviceMonitor.enabled }}
{{- fail (printf "prometheusRule.enabled without serviceMonitor.enabled needs prometheusRule.selector: the alerts would select job=%q, the job label only the chart's ServiceMonitor gives, so BatonDatadogDown would fire for good and no other alert see a series; set prometheusRule.selector to the labels your scrape config gives (e.g. namespace=\"%s\", job=\"...\"), or enable serviceMonitor" (include "baton-datadog.fullname" .) .Release.Namespace) }}
{{- end }}
{{- range $list := list "relabelings" "metricRelabelings" }}
{{- range $i, $relabel := get $.Values.serviceMonitor $list }}
{{- $target := toString ($relabel.targetLabel | default "") }}
{{- if has $target (list "job" "namespace") }}
{{- fail (printf "serviceMonitor.%s[%d] sets the %s label, which the alerts select on (namespace=%q, job=%q): set prometheusRule.selector to match" $list $i $target $.Release.Namespace (include "baton-datadog.fullname" $)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.prometheusRule.selector }}
{{- /* Pasted into the braces of every alert's selectors, with more matchers after it: anything but a list of
matchers (braces around it, as PromQL writes a selector; a missing or a trailing comma; an unquoted value) gave
rules Prometheus cannot parse, which the operator's admission webhook refuses at install and, without one, drops
with every alert of the group, in silence. Strings as PromQL quotes them: "...", '...' or in backticks. */}}
{{- $backtick := "\x60" }}
{{- $string := printf "(\"([^\"\\\\]|\\\\.)*\"|'([^'\\\\]|\\\\.)*'|%s[^%s]*%s)" $backtick $backtick $backtick }}
{{- $matcher := printf "\\s*[a-zA-Z_][a-zA-Z0-9_]*\\s*(=~|!~|!=|=)\\s*%s\\s*" $string }}
{{- if not (regexMatch (printf "^%s(,%s)*$" $matcher $matcher) .) }}
{{- fail "prometheusRule.selector is not a list of PromQL label matchers (name=\"value\", comma-separated, without braces), e.g. namespace=\"security\", job=\"datadog-acme-baton-datadog\": every alert's expression holds it, and Prometheus would load none of them" }}
{{- end }}
{{- end }}
{{- range $i, $source := .Values.extraEnvFrom }}
{{- if eq (toString (($source.secretRef | default dict).name)) (include "baton-datadog.secretName" $) }}
{{- fail (printf "extraEnvFrom[%d] names the Secret %s, which the chart already reads (existingSecret or its own): leave it out" $i (include "baton-datadog.secretName" $)) }}
{{- end }}
{{- /* A ConfigMap holding a secret setting, as the cluster has it (`lookup`: nothing where the chart is rendered
without the cluster), its prefix applied: the same exposure as a configMapKeyRef. Named by key, never by value. */}}
{{- with $source.configMapRef }}
{{- $configMap := toString .name }}
{{- $found := lookup "v1" "ConfigMap" $.Release.Namespace $configMap | default dict }}
{{- range $held, $value := ($found.data | default dict) }}
{{- $env := printf "%s%s" (toString ($source.prefix | default "")) $held }}
{{- if and $value (has $env $secretSettings) }}
{{- fail (printf "extraEnvFrom[%d] reads the ConfigMap %q, which holds %s: there it is readable by whoever may read ConfigMaps (the built-in view role among them); credentials come only from a Secret: move it to one (existingSecret, secret.* or an extraEnvFrom secretRef)" $i $configMap $env) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $seen := dict }}
{{- range $i, $entry := .Values.extraEnv }}
{{- /* Checked here, not by the schema's pattern: a schema error quotes the value, and a name holding '=' is most
likely NAME=value written as the name, a credential among them. This message names the entry, not its text. */}}
{{- if not (regexMatch "^[ -<>-~]+$" (toString $entry.name)) }}
{{- fail (printf "values /extraEnv/%d/name: a variable name is printable ASCII without '=' (was NAME=value written as the name? put the value in value or valueFrom); the name is not shown, as it may hold a value" $i) }}
{{- end }}
{{- end }}
{{- range .Values.extraEnv }}
{{- $envName := toString .name }}
{{- /* A BATON_* name in another letter case is the same setting spelt wrong: the connector reads upper-case names
only and warns about baton_log_level without reading it, so beside config.logLevel it would be lost. */}}
{{- $key := hasPrefix "BATON_" (upper $envName) | ternary (upper $envName) $envName }}
{{- if hasKey $chartSets $key }}
{{- fail (printf "extraEnv sets %s, which %s already sets: set it in one place (of two, one is silently lost)" $envName (get $chartSets $key)) }}
{{- end }}
{{- if hasKey $seen $key }}
{{- fail (printf "extraEnv sets %s twice" $key) }}
{{- end }}
{{- /* A credential as a plain value sits in clear text in the Deployment (readable by anyone who may read
Deployments, kept in every ReplicaSet and in the release history): the credentials reach the pod only from a Secret.
An empty value beside valueFrom is what tools that fill every field write, and holds nothing. */}}
{{- if and (has $key (values $secretKeys)) .value }}
{{- fail (printf "extraEnv sets %s as a plain value, in clear text in the Deployment: credentials come only from a Secret; use secret.*, existingSecret, extraEnvFrom or valueFrom.secretKeyRef" $key) }}
{{- end }}
{{- /* From a Secret with valueFrom too: a configMapKeyRef keeps the secret in a ConfigMap, a fieldRef in the pod's
annotations or labels (and every ReplicaSet's), each read by whoever may read ConfigMaps or pods, which the built-in
view role may and Secrets it may not. */}}
{{- if has $key $secretSettings }}
{{- range $source, $ref := .valueFrom | default dict }}
{{- if and $ref (ne $source "secretKeyRef") }}
{{- fail (printf "extraEnv takes %s from valueFrom.%s, not from a Secret: there it is readable by whoever may read ConfigMaps or pods (the built-in view role among them); credentials come only from a Secret: use valueFrom.secretKeyRef, secret.*, existingSecret or an extraEnvFrom secretRef" $key $source) }}
{{- end }}
{{- end }}
{{- end }}
{{- $_ := set $seen $key true }}
{{- end }}
{{- end }}

{{/* A connector setting as values give it to the pod in plain text, as JSON {"what": where it is given, "value": ...},
or {} when they give none: `config.<key>`, else (that value null or "", which configEnv leaves out) the extraEnv entry
of its BATON_* name with a plain value, which the chart allows there. Every check of a setting reads it from here:
the checks read config.<key> alone, and the same path or host given in extraEnv passed none of them. An entry with
valueFrom, or a key of a Secret, the chart cannot see. */}}
{{- define "baton-datadog.plainSetting" -}}
{{- $root := index . 0 }}
{{- $key := index . 1 }}
{{- $env := get (include "baton-datadog.settingEnvNames" $root | fromYaml) $key }}
{{- $found := dict }}
{{- $value := get $root.Values.config $key }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
{{- $found = dict "what" (printf "config.%s" $key) "value" (toString $value) }}
{{- else }}
{{- range $root.Values.extraEnv }}
{{- if and (eq (toString .name) $env) .value }}
{{- $found = dict "what" (printf "extraEnv %s" $env) "value" (toString .value) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $found }}
{{- end }}

{{/* Of the pod's mounts ({path: {where, volume, readOnly, empty}}, as validate builds them), the deepest holding a
path, as JSON with its mount point added ("mount"); {} when none does (the read-only root filesystem):
(list mounts path). */}}
{{- define "baton-datadog.volumeHolding" -}}
{{- $mounts := index . 0 }}
{{- $path := index . 1 }}
{{- $holder := "" }}
{{- range $mount := keys $mounts }}
{{- if and (or (eq $path $mount) (hasPrefix (printf "%s/" $mount) $path)) (gt (len $mount) (len $holder)) }}
{{- $holder = $mount }}
{{- end }}
{{- end }}
{{- if $holder }}{{ merge (dict "mount" $holder) (get $mounts $holder) | toJson }}{{ else }}{}{{ end }}
{{- end }}

{{/* A directory below an emptyDir's mount point that is not there when the pod starts: "missing"; "runtime" for one
the container runtime makes (root's, mode 0755: there, but not writable by the connector's UID); else "" (the
directory may be there: no emptyDir holds it, it is the mount point, or a subPath makes it). The kubelet makes the
directory each mount's subPath names in its volume, with those above it, before the container starts: with the
emptyDir mounted whole on /tmp/work and again with subPath cache, /tmp/work/cache is there. A subPathExpr names a
directory the chart cannot know: then any may be. The runtime makes each mount point with the directories above it
(runc's MkdirAll): with a ConfigMap mounted on /tmp/certs/corp, /tmp/certs is there. (list mounts path), mounts as
validate builds them. */}}
{{- define "baton-datadog.missingAtStart" -}}
{{- $mounts := index . 0 }}
{{- $path := index . 1 }}
{{- $kind := include "baton-datadog.volumeHolding" (list $mounts $path) | fromJson }}
{{- if and $kind $kind.empty (ne $path $kind.mount) }}
{{- $missing := true }}
{{- $inVolume := trimPrefix "/" (clean (printf "/%s/%s" $kind.subPath (trimPrefix (printf "%s/" $kind.mount) $path))) }}
{{- range $mountPath, $other := $mounts }}
{{- if and (ne $mountPath $kind.mount) (eq $other.volume $kind.volume) }}
{{- if or $other.subPathExpr (and $kind.subPathExpr $other.subPath) (and $other.subPath (or (eq $other.subPath $inVolume) (hasPrefix (printf "%s/" $inVolume) $other.subPath))) }}
{{- $missing = false }}
{{- end }}
{{- end }}
{{- end }}
{{- if $missing }}
{{- range $mountPath := keys $mounts }}
{{- if hasPrefix (printf "%s/" $path) $mountPath }}{{ $missing = false }}{{ end }}
{{- end }}
{{- if $missing }}missing{{ else }}runtime{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The image's program: path -> {what: what it is, oneFile, runs}. A mount on one, above one or inside one hides it and
the container cannot start (validate). Two layouts: the Dockerfile's base, the official python:3.11 slim image on
Debian bookworm (the venv's python links to /usr/local/bin/python3; the interpreter loads libpython and its standard
library from /usr/local/lib), and the base `make image` builds offline (scripts/deploy_image.py: Debian bookworm's
own python3, /usr/bin/python3.11 with its standard library in /usr/lib/python3.11). Both load the C library, the
libraries their modules link (libssl, libz, libffi, ...) and the dynamic loader from Debian's multiarch directory and
/usr/lib64 (/lib64/ld-linux-x86-64.so.2, merged-usr), for both architectures the base is built for. The connector
runs no other program. Inside a directory, a one-file subPath mount may replace only an entry whose path below it
matches oneFile and not runs (the names the program runs from: modules, extension modules, .pth files, shared
libraries): a data file, e.g. certifi's cacert.pem; nowhere else (the venv's bin/ and pyvenv.cfg, the standard
library, the loader's directory).
*/}}
{{- define "baton-datadog.programPaths" -}}
/opt/venv:
  what: the connector and its dependencies
  oneFile: '^lib/python3\.11/site-packages/[^/]+/.'
  runs: '\.(py|pyc|pth)$|\.so(\.[0-9]+)*$'
/usr/local/bin/python3: {what: the Python interpreter the venv runs}
/usr/local/bin/python3.11: {what: the Python interpreter}
/usr/local/lib/libpython3.11.so.1.0: {what: the Python interpreter's library}
/usr/local/lib/python3.11: {what: Python's standard library}
/usr/bin/python3: {what: "the Python interpreter the venv runs (Debian's: the image make image builds)"}
/usr/bin/python3.11: {what: "the Python interpreter (Debian's: the image make image builds)"}
/usr/lib/python3.11: {what: "Python's standard library (Debian's: the image make image builds)"}
/usr/lib/x86_64-linux-gnu:
  what: the C library and the libraries Python's modules load
  oneFile: '.'
  runs: '\.so(\.[0-9]+)*$'
/usr/lib64: {what: the dynamic loader}
/usr/lib/aarch64-linux-gnu:
  what: the C library and the libraries Python's modules load (arm64)
  oneFile: '.'
  runs: '\.so(\.[0-9]+)*$'
/usr/lib/ld-linux-aarch64.so.1: {what: the dynamic loader (arm64)}
{{- end }}

{{/* A path as the connector opens it in the pod: cleaned, and a relative one from the image's WORKDIR, /tmp. */}}
{{- define "baton-datadog.podPath" -}}
{{- isAbs . | ternary (clean .) (clean (printf "/tmp/%s" .)) }}
{{- end }}

{{/* The connector container's securityContext, without the fields set to null in values (a platform that assigns
the UID, e.g. OpenShift, nulls runAsUser). */}}
{{- define "baton-datadog.containerSecurityContext" -}}
{{- $ctx := dict }}
{{- range $key, $value := .Values.securityContext }}
{{- if not (kindIs "invalid" $value) }}
{{- $_ := set $ctx $key $value }}
{{- end }}
{{- end }}
{{- toYaml $ctx }}
{{- end }}

{{/* The port the connector's health server listens on: config.healthCheckPort, or the connector default when null. */}}
{{- define "baton-datadog.healthPort" -}}
{{- if kindIs "invalid" .Values.config.healthCheckPort }}8081{{ else }}{{ int .Values.config.healthCheckPort }}{{ end }}
{{- end }}

{{/* The BATON_* settings rendered as env (set in values), for NOTES.txt: the `config` keys, and the BATON_* names of
extraEnv (allowed for a setting whose config value is null), which win over a Secret just the same. */}}
{{- define "baton-datadog.configFromValues" -}}
{{- $set := list }}
{{- range (include "baton-datadog.configEnv" . | fromYamlArray) }}
{{- $set = append $set .name }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if hasPrefix "BATON_" (toString .name) }}
{{- $set = append $set (printf "%s (extraEnv)" .name) }}
{{- end }}
{{- end }}
{{- join ", " $set }}
{{- end }}

{{/* Fails when the map given in values (named) has a key the chart already sets: (list name given chartKeys who). */}}
{{- define "baton-datadog.noClash" -}}
{{- $name := index . 0 }}
{{- $given := index . 1 | default dict }}
{{- $chart := index . 2 }}
{{- range $key := keys $given | sortAlpha }}
{{- if hasKey $chart $key }}
{{- fail (printf "%s sets %s, which %s already sets: leave it out (of two, one is silently lost)" $name $key (index $ 3)) }}
{{- end }}
{{- end }}
{{- end }}

{{/* A Kubernetes quantity (the schema's `^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`, or a number) as a
plain number, for comparing two of them. */}}
{{- define "baton-datadog.quantity" -}}
{{- if not (kindIs "string" .) }}
{{- /* A number (Helm reads 3000000000 as the float 3e+09): the text form would parse as 3 with a suffix "e+09". */}}
{{- float64 . }}
{{- else }}
{{- $text := . }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $text }}
{{- $suffix := trimPrefix $number $text }}
{{- $scale := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 }}
{{- mulf (float64 $number) (get $scale $suffix) }}
{{- end }}
{{- end }}

{{/* A Prometheus duration of one unit (the schema's `^[0-9]+(ms|s|m|h)$`) in milliseconds. */}}
{{- define "baton-datadog.milliseconds" -}}
{{- $n := regexFind "^[0-9]+" . | int64 }}
{{- $unit := regexFind "[a-z]+$" . }}
{{- mul $n (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit) }}
{{- end }}

{{/* With the NetworkPolicy on, every port the values make the connector dial (config.c1ApiHost, config.baseUrl, or
their BATON_* names in extraEnv; an HTTPS_PROXY or ALL_PROXY in extraEnv: the proxies it reads for https) must be 443
or in networkPolicy.extraEgress, else the pod starts and every call times out. */}}
{{- define "baton-datadog.egressPortsAllowed" -}}
{{- $dials := list }}
{{- with include "baton-datadog.plainSetting" (list . "c1ApiHost") | fromJson }}
{{- $port := regexFind "[0-9]+$" (regexFind ":[0-9]+$" .value) | default "443" }}
{{- $dials = append $dials (list .what (include "baton-datadog.decimal" $port)) }}
{{- end }}
{{- with include "baton-datadog.plainSetting" (list . "baseUrl") | fromJson }}
{{- $dials = append $dials (list .what (include "baton-datadog.urlPort" .value)) }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if and (has (upper (toString .name)) (list "HTTPS_PROXY" "ALL_PROXY")) .value }}
{{- $dials = append $dials (list (printf "extraEnv %s" .name) (include "baton-datadog.urlPort" .value)) }}
{{- end }}
{{- end }}
{{- range $dials }}
{{- $what := index . 0 }}
{{- if eq (toString (index . 1)) "" }}
{{- fail (printf "%s is not a URL the connector can read (expected http://host:port, or http://user:password@host:port for a proxy; the connector refuses it at start): its value is not shown, as it may hold a password" $what) }}
{{- end }}
{{- $port := index . 1 | int64 }}
{{- $allowed := eq $port 443 }}
{{- range $.Values.networkPolicy.extraEgress }}
{{- if not .ports }}
{{- $allowed = true }}
{{- end }}
{{- range .ports }}
{{- if and (not (kindIs "string" .port)) (le (int64 .port) $port) (le $port (int64 (.endPort | default .port))) }}
{{- $allowed = true }}
{{- end }}
{{- end }}
{{- end }}
{{- if not $allowed }}
{{- fail (printf "%s dials port %d, which the NetworkPolicy does not allow (DNS and 443 only): add networkPolicy.extraEgress, e.g. [{ports: [{port: %d, protocol: TCP}]}]" $what $port $port) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The port a URL dials, read as the connector reads it (Python's urlsplit): the host part ends at the first '/',
'?' or '#' and follows the last '@'; its own port, else its scheme's (a proxy given as host:port is http). "" for a
value the connector refuses at start (no host, a port that is no number from 1 to 65535, whitespace, an unpaired
bracket). Not Go's urlParse: its error quotes the whole value, a proxy's password with it, and it refused passwords
the connector takes (a '%' that starts no escape). */}}
{{- define "baton-datadog.urlPort" -}}
{{- $url := contains "://" . | ternary . (printf "http://%s" .) }}
{{- $parts := regexSplit "://" $url 2 }}
{{- $scheme := lower (index $parts 0) }}
{{- $host := regexReplaceAll "^(?s).*@" (regexReplaceAll "(?s)[/?#].*$" (index $parts 1) "") "" }}
{{- $port := "" }}
{{- if regexMatch "^\\[[^\\[\\]]+\\](:[0-9]*)?$" $host }}
{{- $port = regexReplaceAll "^\\[[^\\]]*\\]:?" $host "" }}
{{- else if regexMatch "^[^:\\[\\]]+(:[0-9]*)?$" $host }}
{{- $port = regexReplaceAll "^[^:]*:?" $host "" }}
{{- else }}
{{- $host = "" }}
{{- end }}
{{- if and $host (not (regexMatch "[\\s\\x00-\\x1f\\x7f]" .)) }}
{{- $port = include "baton-datadog.decimal" ($port | default (eq $scheme "https" | ternary "443" "80")) }}
{{- if and (gt (len $port) 0) (le (len $port) 5) (gt (int64 $port) 0) (le (int64 $port) 65535) }}
{{- $port }}
{{- end }}
{{- end }}
{{- end }}

{{/* Digits as the connector reads a port, in base 10: sprig's int64 read a leading 0 as octal (010 as 8, 08080 as 0). */}}
{{- define "baton-datadog.decimal" -}}
{{- regexReplaceAll "^0+([0-9])" (toString .) "${1}" }}
{{- end }}

{{/*
A probe's timings as given, without "enabled" and without the ones set to null: those are left to Kubernetes'
defaults. Helm drops a null only where values.yaml has the key; `omit` keeps a null it did not drop, and the probe
rendered `successThreshold: null`.
*/}}
{{- define "baton-datadog.probeTimings" -}}
{{- $timings := dict -}}
{{- range $key, $value := omit . "enabled" -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ := set $timings $key $value -}}
{{- end -}}
{{- end -}}
{{- with $timings }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* The variables the `extraEnvFrom` sources set, with a value not empty, as the cluster has them (`lookup`, each
source's `prefix` applied), as JSON {NAME: true}; {} where the chart is rendered without the cluster. */}}
{{- define "baton-datadog.fromExtraEnvFrom" -}}
{{- $names := dict }}
{{- range .Values.extraEnvFrom }}
{{- $prefix := toString (.prefix | default "") }}
{{- $source := dict }}
{{- with .secretRef }}{{ $source = lookup "v1" "Secret" $.Release.Namespace (toString .name) | default dict }}{{ end }}
{{- with .configMapRef }}{{ $source = lookup "v1" "ConfigMap" $.Release.Namespace (toString .name) | default dict }}{{ end }}
{{- range $held, $value := ($source.data | default dict) }}{{ if $value }}{{ $_ := set $names (printf "%s%s" $prefix $held) true }}{{ end }}{{ end }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/* The chart-made Secret's data, as JSON {BATON_*: base64}: each credential from its secret.* value, else the one
this release's Secret already holds (`lookup`, in a `helm upgrade` against the cluster). An upgrade given
`-f values.yaml` without the secret.* keys emptied the Secret: the pods it rolled exited at start, and the keys were
gone from the cluster. `helm template` and a client-side `--dry-run` see no cluster (lookup gives nothing), so
there the data is the values' alone, as before. Only a Secret that Helm's own annotations give to this release is
read: a Secret of that name made by someone else is never copied into the release. Nor is a key an `extraEnvFrom`
source holds, not empty, as the cluster has it (the chart's Secret comes after those in envFrom, so an old kept key beat a new one
moved there, and the pods failed once the old key was revoked), or one an `extraEnv` entry sets (`env` beats
`envFrom`: a dead copy). */}}
{{- define "baton-datadog.secretData" -}}
{{- $data := dict }}
{{- $setElsewhere := include "baton-datadog.fromExtraEnvFrom" . | fromJson }}
{{- range .Values.extraEnv }}{{ $_ := set $setElsewhere (toString .name) true }}{{ end }}
{{- $name := include "baton-datadog.fullname" . }}
{{- $old := lookup "v1" "Secret" .Release.Namespace $name | default dict }}
{{- $oldAnnotations := (($old.metadata | default dict).annotations | default dict) }}
{{- $ours := and (eq (toString (get $oldAnnotations "meta.helm.sh/release-name")) .Release.Name) (eq (toString (get $oldAnnotations "meta.helm.sh/release-namespace")) .Release.Namespace) }}
{{- $oldData := ternary ($old.data | default dict) dict $ours }}
{{- range $key, $env := dict "clientId" "BATON_CLIENT_ID" "clientSecret" "BATON_CLIENT_SECRET" "apiKey" "BATON_API_KEY" "appKey" "BATON_APP_KEY" }}
{{- with get $.Values.secret $key }}
{{- $_ := set $data $env (b64enc .) }}
{{- else }}
{{- if not (hasKey $setElsewhere $env) }}
{{- with get $oldData $env }}
{{- $_ := set $data $env (toString .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $data }}
{{- end }}
