// Package deploy holds everything a container platform or an edge device needs to run benchpipe: the compose
// stack (docker-compose.yml at the repository root), Dockerfiles, Hasura metadata, the nginx site, Prometheus and
// Grafana provisioning, systemd units with their installer, and a kustomize base for Kubernetes. It has no Go code
// of its own; its tests check those files statically against the real parsers (compose-go, kustomize, k8s API
// types, nginx -t, systemd-analyze) and the migrated schema, since no container engine runs where they do.
package deploy
