"""Third independent deploy suite (issue 5 and the chart issues): the chart as a Kubernetes operator uses it, from
the sides the first two rounds left: a setting given through `extraEnv` instead of its `config` value, and the
working directory on a volume the pod cannot write."""
