{{/* The labels every object of the operator carries (as in manifests/). */}}
{{- define "spate.selectorLabels" -}}
app.kubernetes.io/name: spate-operator
{{- end }}

{{- define "spate.labels" -}}
{{ include "spate.selectorLabels" . }}
app.kubernetes.io/part-of: spate
{{- end }}

{{/* The release's labels, on top of those. */}}
{{- define "spate.releaseLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{- define "spate.metadataLabels" -}}
{{ include "spate.labels" . }}
{{ include "spate.releaseLabels" . }}
{{- end }}

{{/* Labels of the monitoring objects. */}}
{{- define "spate.monitoringLabels" -}}
app.kubernetes.io/name: spate
app.kubernetes.io/part-of: spate
{{ include "spate.releaseLabels" . }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "spate.image" -}}
{{ .repository }}:{{ .tag | default .appVersion }}
{{- end }}

{{/* Whether the operator watches only the release's namespace. */}}
{{- define "spate.namespaced" -}}
{{- if eq .Values.rbac.scope "namespace" }}true{{ end }}
{{- end }}
