#!/bin/sh
# Runs S2–S4 on a Kubernetes cluster: the Jobs of deploy/k8s/offline/ in order, each once the one
# before has completed; stops at the first that fails. Set up first: kubectl apply -f
# deploy/k8s/storage.yaml, and put the raw dataset and the pre-model on the volume (/data/raw,
# /data/models/premodel.onnx).
# usage: deploy/k8s/run-offline.sh   (env: KUBECTL, default kubectl; POLL seconds, default 30)
set -eu
kubectl=${KUBECTL:-kubectl}
for f in "$(dirname "$0")"/offline/*.yaml; do
	name=$(sed -n 's/^  name: //p' "$f" | head -n 1)
	$kubectl delete job "$name" --ignore-not-found # a finished Job of an earlier run; its outputs stay
	$kubectl apply -f "$f"
	while :; do
		state=$($kubectl get job "$name" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')
		case "$state" in
		*Complete*) break ;;
		*Failed*)
			echo "run-offline: job $name failed; see kubectl logs job/$name" >&2
			exit 1
			;;
		esac
		sleep "${POLL:-30}"
	done
done
