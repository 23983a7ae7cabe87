"""A Kubernetes API server emulator for Berth's tests (standard library only;
the built-in kinds' OpenAPI schemas are read from python3-kubernetes' models).

hack/kube-emulator runs it; hack/kube-emulator.md says what it serves and how
it differs from a real API server. The modules, from the socket inward:

  main            flags, TLS, kubeconfig and port files, signals
  server          shared state (Emulator), the threading HTTP(S) server, log
  auth            SSL context; who a request is (tokens, certificates)
  tokens          ServiceAccount tokens: TokenRequest, JWT issue and checks
  rbac            RBAC authorization, the Forbidden Status, bootstrap policy
  reviews         impersonation; SelfSubjectAccessReview, SubjectAccessReview
  handler         HTTP plumbing, request log, outages, /_emulator, routing
  discovery       /version, /api, /apis, APIResourceList, aggregated
  openapi         OpenAPI v2 and v3 documents from the registered types
  openapi_proto   the v2 document in gnostic's protobuf
  apimodels       built-in kinds' schemas from the Python client's models
  resource_verbs  get/list/create/update/patch/delete on a resource
  watch_stream    a chunked watch stream with bookmarks and timeouts
  protobuf        protobuf bodies, decoded by a field-number table
  tables          meta.k8s.io/v1 Tables for kubectl get
  printers        the built-in types' Table columns and cells
  store           objects, the resourceVersion counter, the write verbs
  builtins        what Secret and DaemonSet strategies add on a write
  watch           events, watch history (410 bookkeeping), watchers
  decode          body -> object: type meta, pruning, defaults, validation
  patch           merge patch, JSON patch, apply
  smp             strategic merge patch and its patch metadata
  crd             CRD validation, status and the types a CRD defines
  schema          structural schemas: prune, default, validate
  objectmeta      ObjectMeta typed decode and validation
  selector        label and field selectors
  resources       ResourceType and the built-in types
  errors          ApiError and meta/v1 Status builders
  timestamps      RFC 3339 timestamps and human durations
  kubeconfig      the kubeconfig written for --kubeconfig-out

Unit tests of the pure parts are in tests/ (python3 -m unittest discover -s
hack/kube_emulator/tests -t hack).
"""
