{{/* The chart's name, or nameOverride. */}}
{{- define "warbler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, else the release
name if it already contains the chart's name, else RELEASE-NAME.
*/}}
{{- define "warbler.fullname" -}}
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

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "warbler.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels common to every object of the release. */}}
{{- define "warbler.commonLabels" -}}
helm.sh/chart: {{ include "warbler.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: warbler
{{- end }}

{{/* The controller's labels. */}}
{{- define "warbler.labels" -}}
{{ include "warbler.selectorLabels" . }}
app.kubernetes.io/component: controller
{{ include "warbler.commonLabels" . }}
{{- end }}

{{/* What selects the controller's pods (never change: selectors are immutable). */}}
{{- define "warbler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "warbler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The load tester's labels. */}}
{{- define "warbler.loadtester.labels" -}}
{{ include "warbler.loadtester.selectorLabels" . }}
app.kubernetes.io/component: loadtester
{{ include "warbler.commonLabels" . }}
{{- end }}

{{- define "warbler.loadtester.selectorLabels" -}}
app.kubernetes.io/name: loadtester
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The controller's ServiceAccount. */}}
{{- define "warbler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "warbler.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Role and RoleBinding for the leader-election Lease. */}}
{{- define "warbler.leaderElectionName" -}}
{{- printf "%s-leader-election" (include "warbler.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "warbler.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Refuse settings that cannot work, with what to change. */}}
{{- define "warbler.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection) }}
{{- fail (printf "replicas is %d but leaderElection is false: every replica would reconcile the same Canaries. Set leaderElection=true or replicas=1." (int .Values.replicas)) }}
{{- end }}
{{- with .Values.journal.persistence }}
{{- if and .enabled (gt (int $.Values.replicas) 1) (not .existingClaim) (not (has "ReadWriteMany" .accessModes)) }}
{{- fail (printf "journal.persistence.accessModes is %v with %d replicas: a ReadWriteOnce claim mounts on one node only, so a standby on another node would never start. Use [ReadWriteMany], replicas=1, or an existingClaim you know every replica can mount." .accessModes (int $.Values.replicas)) }}
{{- end }}
{{- end }}
{{- if not (has .Values.logFormat (list "text" "json")) }}
{{- fail (printf "logFormat must be text or json, not %q" .Values.logFormat) }}
{{- end }}
{{- end }}

{{/* The journal's PersistentVolumeClaim: the user's, or the chart's own. */}}
{{- define "warbler.journalClaim" -}}
{{- .Values.journal.persistence.existingClaim | default (printf "%s-journal" (include "warbler.fullname" .)) }}
{{- end }}
