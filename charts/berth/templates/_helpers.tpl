{{/*
The chart name, or nameOverride.
*/}}
{{- define "berth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The objects' name: fullnameOverride, else "<release>-<chart>" (the release
name alone when it already holds the chart name), cut to 63 characters.
*/}}
{{- define "berth.fullname" -}}
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

{{/*
"<chart>-<version>" for the helm.sh/chart label.
*/}}
{{- define "berth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "berth.labels" -}}
helm.sh/chart: {{ include "berth.chart" . }}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The DaemonSet's selector (immutable: never add to it).
*/}}
{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "berth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount berthd runs as.
*/}}
{{- define "berth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "berth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The berthd image: repository:tag, the tag defaulting to the appVersion.
*/}}
{{- define "berth.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
berthd's arguments, one per line as "- <arg>" (quoted).
*/}}
{{- define "berth.args" -}}
{{- $b := .Values.berthd -}}
- --in-cluster
- {{ printf "--state-dir=%s" .Values.hostPaths.stateDir | quote }}
- {{ printf "--run-dir=%s" .Values.hostPaths.runDir | quote }}
- {{ printf "--cni-bin-dir=%s" .Values.hostPaths.cniBinDir | quote }}
- {{ printf "--cni-conf-dir=%s" .Values.hostPaths.cniConfDir | quote }}
{{- if .Values.manifests.enabled }}
- {{ printf "--manifests-dir=%s" .Values.manifests.hostPath | quote }}
{{- else }}
- "--manifests-dir="
{{- end }}
- {{ printf "--manifests-debounce=%s" .Values.manifests.debounce | quote }}
- {{ printf "--log-level=%s" $b.logLevel | quote }}
- {{ printf "--log-format=%s" $b.logFormat | quote }}
{{- if not (kindIs "invalid" $b.workers) }}
- {{ printf "--workers=%d" (int $b.workers) | quote }}
{{- end }}
- {{ printf "--resync-period=%s" $b.resyncPeriod | quote }}
- {{ printf "--relist-period=%s" $b.relistPeriod | quote }}
- {{ printf "--restart-backoff-initial=%s" $b.restartBackoff.initial | quote }}
- {{ printf "--restart-backoff-max=%s" $b.restartBackoff.max | quote }}
- {{ printf "--image-gc-high-threshold=%d" (int $b.imageGC.highThreshold) | quote }}
- {{ printf "--image-gc-low-threshold=%d" (int $b.imageGC.lowThreshold) | quote }}
- {{ printf "--image-gc-period=%s" $b.imageGC.period | quote }}
- {{ printf "--stop-on-exit=%t" $b.stopOnExit | quote }}
- {{ printf "--metrics-addr=%s" $b.metricsAddr | quote }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The port of berthd.metricsAddr (host:port).
*/}}
{{- define "berth.metricsPort" -}}
{{- regexReplaceAll "^.*:" .Values.berthd.metricsAddr "" -}}
{{- end }}

{{/*
The host kubelet's probes ask, "" for the pod's IP. kubelet probes from the
node's network namespace: a hostNetwork pod listening on loopback (or on
every address) is reached at the node's 127.0.0.1, as kube-controller-manager's
static pod is; one listening on a given address, there. A pod with a network
namespace of its own is reached at its IP only, so berthd must listen on it.
*/}}
{{- define "berth.probeHost" -}}
{{- $host := regexReplaceAll ":[0-9]*$" .Values.berthd.metricsAddr "" | trimPrefix "[" | trimSuffix "]" -}}
{{- $any := or (eq $host "") (eq $host "0.0.0.0") (eq $host "::") -}}
{{- $loopback := or (hasPrefix "127." $host) (eq $host "::1") -}}
{{- if .Values.hostNetwork -}}
{{- if $any -}}127.0.0.1{{- else -}}{{ $host }}{{- end -}}
{{- else if $loopback -}}
{{- fail (printf "berthd.metricsAddr %s is the pod's own loopback, which kubelet's probes cannot reach without hostNetwork: listen on the pod's address (\":9321\") or set probes.enabled=false" .Values.berthd.metricsAddr) -}}
{{- end -}}
{{- end }}
