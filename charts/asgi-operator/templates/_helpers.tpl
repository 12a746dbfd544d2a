{{- define "asgi-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "asgi-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "asgi-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "asgi-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "asgi-operator.labels" -}}
{{ include "asgi-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "asgi-operator.serviceAccountName" -}}
{{- default (include "asgi-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "asgi-operator.rules" -}}
{{ .Files.Get "files/clusterrole-rules.yaml" }}
{{- if .Values.peering.enabled }}
{{ .Files.Get "files/peering-rules.yaml" }}
{{- end }}
{{- end -}}
