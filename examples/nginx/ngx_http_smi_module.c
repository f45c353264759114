/*
 * ngx_http_smi_module: SMI (Service Mesh Interface) access control and traffic split for nginx,
 * deciding with SMIEngine through its C ABI (smi_engine.h) only.
 *
 *   smi_policy PATH ...;            http      manifests (files or folders), compiled when nginx
 *                                             reads its configuration; errors fail the load
 *   smi_full_path_match on|off;     http      anchor pathRegex at both ends (default off)
 *   smi_trust_domain TD;            http      accept SPIFFE ids of this trust domain only
 *   smi_access on|off;              http/server/location   enforce access (default off)
 *   smi_source VALUE;               http/server/location   the caller's identity
 *   smi_destination VALUE;          http/server/location   the protected workload's identity
 *   smi_port VALUE;                 http/server/location   destination port (default: the
 *                                                          port the connection arrived on)
 *   smi_split SERVICE [KEY];        http/server/location   root service for $smi_backend;
 *                                                          KEY makes the choice sticky
 *
 * Life cycle. The master compiles the policy while it reads the configuration (init_main_conf);
 * the configuration's pool owns one reference, released by a pool cleanup when that cycle is
 * destroyed (after a successful reload in the master; at exit in a worker). A policy that does
 * not compile makes the configuration fail, so `nginx -t` fails and a reload keeps the old
 * workers with the old policy. Each worker process (single-threaded) owns one smi_scratch,
 * created in init_process and freed in exit_process.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <smi_engine.h>

#define NGX_HTTP_SMI_DENY_HEADER "X-SMI-Deny-Reason"
#define NGX_HTTP_SMI_BUNDLE_SUFFIX ".smib"

typedef struct {
    ngx_array_t *paths;            /* ngx_str_t, absolute, NUL-terminated */
    ngx_flag_t full_path_match;
    ngx_str_t trust_domain;
    ngx_str_t where;               /* "FILE:LINE" of the first smi_policy, for messages */
    smi_policy *policy;            /* one reference, released by the conf pool's cleanup */
} ngx_http_smi_main_conf_t;

/* A peer identity: a complex value, and for constant ones a worker-local resolved cache. */
typedef struct {
    ngx_http_complex_value_t *value;
    smi_identity cache;            /* used only when value is constant (no variables) */
} ngx_http_smi_peer_t;

typedef struct {
    ngx_flag_t access;
    ngx_http_smi_peer_t *source;
    ngx_http_smi_peer_t *destination;
    ngx_http_complex_value_t *port;
    ngx_http_complex_value_t *split_service;
    ngx_http_complex_value_t *split_key;
} ngx_http_smi_loc_conf_t;

/* Per request: the access decision (its strings are borrowed from the policy, which outlives the
 * request) and the split decision, computed when $smi_backend is first read. */
typedef struct {
    unsigned decided:1;
    unsigned allowed:1;
    unsigned split_done:1;
    ngx_str_t reason;
    ngx_str_t traffic_target;
    ngx_str_t rule_kind;
    ngx_str_t match;
    ngx_str_t normalized_path;     /* copied: the engine's copy lives in the scratch */
    ngx_str_t backend;             /* "name.namespace", for proxy_pass and upstream names */
    ngx_str_t backend_service;     /* "namespace/name", as the engine spells it */
    ngx_str_t traffic_split;
} ngx_http_smi_ctx_t;

static ngx_int_t ngx_http_smi_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_smi_init(ngx_conf_t *cf);
static void *ngx_http_smi_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_smi_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_smi_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_smi_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *ngx_http_smi_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_smi_peer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_smi_split(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_smi_init_process(ngx_cycle_t *cycle);
static void ngx_http_smi_exit_process(ngx_cycle_t *cycle);

/* The worker's scratch and header buffer: nginx workers are single-threaded processes. */
static smi_scratch *ngx_http_smi_scratch;
static smi_header *ngx_http_smi_headers;
static size_t ngx_http_smi_headers_capacity;
static uint64_t ngx_http_smi_random_state;

static ngx_command_t ngx_http_smi_commands[] = {

    { ngx_string("smi_policy"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE,
      ngx_http_smi_policy,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smi_full_path_match"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_smi_main_conf_t, full_path_match),
      NULL },

    { ngx_string("smi_trust_domain"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_smi_main_conf_t, trust_domain),
      NULL },

    { ngx_string("smi_access"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smi_loc_conf_t, access),
      NULL },

    { ngx_string("smi_source"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_http_smi_peer,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smi_loc_conf_t, source),
      NULL },

    { ngx_string("smi_destination"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_http_smi_peer,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smi_loc_conf_t, destination),
      NULL },

    { ngx_string("smi_port"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smi_loc_conf_t, port),
      NULL },

    { ngx_string("smi_split"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE12,
      ngx_http_smi_split,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    ngx_null_command
};

static ngx_http_module_t ngx_http_smi_module_ctx = {
    ngx_http_smi_add_variables,      /* preconfiguration */
    ngx_http_smi_init,               /* postconfiguration */
    ngx_http_smi_create_main_conf,   /* create main configuration */
    ngx_http_smi_init_main_conf,     /* init main configuration */
    NULL,                            /* create server configuration */
    NULL,                            /* merge server configuration */
    ngx_http_smi_create_loc_conf,    /* create location configuration */
    ngx_http_smi_merge_loc_conf      /* merge location configuration */
};

ngx_module_t ngx_http_smi_module = {
    NGX_MODULE_V1,
    &ngx_http_smi_module_ctx,        /* module context */
    ngx_http_smi_commands,           /* module directives */
    NGX_HTTP_MODULE,                 /* module type */
    NULL,                            /* init master */
    NULL,                            /* init module */
    ngx_http_smi_init_process,       /* init process */
    NULL,                            /* init thread */
    NULL,                            /* exit thread */
    ngx_http_smi_exit_process,       /* exit process */
    NULL,                            /* exit master */
    NGX_MODULE_V1_PADDING
};

/* ---------------------------------------------------------------------------------------------- */
/* Configuration                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

static void *
ngx_http_smi_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_smi_main_conf_t *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_smi_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }
    mcf->full_path_match = NGX_CONF_UNSET;
    return mcf;
}

static char *
ngx_http_smi_policy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smi_main_conf_t *mcf = conf;
    ngx_str_t *value, *path;
    ngx_uint_t i;

    if (mcf->paths == NULL) {
        mcf->paths = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (mcf->paths == NULL) {
            return NGX_CONF_ERROR;
        }
        mcf->where.data = ngx_pnalloc(cf->pool, cf->conf_file->file.name.len + NGX_INT_T_LEN + 2);
        if (mcf->where.data == NULL) {
            return NGX_CONF_ERROR;
        }
        mcf->where.len = ngx_sprintf(mcf->where.data, "%V:%ui", &cf->conf_file->file.name,
                                     cf->conf_file->line) - mcf->where.data;
    }

    value = cf->args->elts;
    for (i = 1; i < cf->args->nelts; i++) {
        path = ngx_array_push(mcf->paths);
        if (path == NULL) {
            return NGX_CONF_ERROR;
        }
        *path = value[i];
        /* relative paths are relative to the configuration prefix, as for include */
        if (ngx_conf_full_name(cf->cycle, path, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }
    return NGX_CONF_OK;
}

/* Logs every diagnostic (errors as emerg, warnings as warn, notes as notice) in the engine's
 * "FILE:LINE:COLUMN: severity: ..." form. */
static void
ngx_http_smi_log_diagnostics(ngx_log_t *log, smi_diagnostics *diagnostics)
{
    size_t i, count;
    smi_diagnostic d;
    ngx_uint_t level;

    count = smi_diagnostics_count(diagnostics);
    for (i = 0; i < count; i++) {
        ngx_memzero(&d, sizeof(d));
        d.size = sizeof(d);
        if (smi_diagnostics_get(diagnostics, i, &d) != SMI_OK) {
            continue;
        }
        switch (d.severity) {
        case SMI_SEVERITY_ERROR:
            level = NGX_LOG_EMERG;
            break;
        case SMI_SEVERITY_WARNING:
            level = NGX_LOG_WARN;
            break;
        default:
            level = NGX_LOG_NOTICE;
            break;
        }
        ngx_log_error(level, log, 0, "smi_policy: %*s", d.text.length, d.text.data);
    }
}

static ngx_int_t
ngx_http_smi_has_suffix(ngx_str_t *path, const char *suffix)
{
    size_t n = ngx_strlen(suffix);

    return path->len >= n && ngx_strncmp(path->data + path->len - n, suffix, n) == 0;
}

/*
 * Loads a precompiled policy bundle (.smib, written by `smi compile`). Returns NGX_OK with *out
 * set, or NGX_ERROR after logging why (a truncated, corrupted or other-version bundle, or one whose
 * program fails the engine's verifier, is refused with its own diagnostic code).
 */
static ngx_int_t
ngx_http_smi_load_bundle(ngx_conf_t *cf, ngx_http_smi_main_conf_t *mcf, ngx_str_t *path, smi_policy **out)
{
    smi_diagnostics *diagnostics = NULL;
    smi_string name;
    smi_status status;

    *out = NULL;
    /* A bundle carries the options it was compiled with (smi compile --full-path-match ...). */
    if (mcf->full_path_match == 1 || mcf->trust_domain.len > 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "smi_policy: \"%V\" is a bundle, which carries its compile options: drop "
                      "smi_full_path_match and smi_trust_domain, or give them to smi compile (%V)", path, &mcf->where);
        return NGX_ERROR;
    }
    name.data = (const char *) path->data;
    name.length = path->len;
    status = smi_policy_load_bundle_file(out, &diagnostics, name);
    ngx_http_smi_log_diagnostics(cf->log, diagnostics);
    if (status != SMI_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "smi_policy: bundle \"%V\" refused: %s (%V)", path,
                      smi_status_string(status), &mcf->where);
    }
    smi_diagnostics_free(diagnostics);
    return status == SMI_OK ? NGX_OK : NGX_ERROR;
}

/* Compiles the smi_policy paths into *out. Returns NGX_OK, or NGX_ERROR after logging why. */
static ngx_int_t
ngx_http_smi_compile(ngx_conf_t *cf, ngx_http_smi_main_conf_t *mcf, smi_policy **out)
{
    smi_compile_options options = SMI_COMPILE_OPTIONS_INIT;
    smi_diagnostics *diagnostics = NULL;
    smi_string *paths;
    ngx_str_t *value;
    ngx_uint_t i;
    smi_status status;

    value = mcf->paths->elts;
    if (mcf->paths->nelts == 1 && ngx_http_smi_has_suffix(&value[0], NGX_HTTP_SMI_BUNDLE_SUFFIX)) {
        return ngx_http_smi_load_bundle(cf, mcf, &value[0], out);
    }

    paths = ngx_palloc(cf->temp_pool, mcf->paths->nelts * sizeof(smi_string));
    if (paths == NULL) {
        return NGX_ERROR;
    }
    for (i = 0; i < mcf->paths->nelts; i++) {
        if (ngx_http_smi_has_suffix(&value[i], NGX_HTTP_SMI_BUNDLE_SUFFIX)) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "smi_policy: a bundle (\"%V\") must be the only path (%V)", &value[i], &mcf->where);
            return NGX_ERROR;
        }
        paths[i].data = (const char *) value[i].data;
        paths[i].length = value[i].len;
    }

    if (mcf->full_path_match == 1) {
        options.flags |= SMI_COMPILE_FULL_PATH_MATCH;
    }
    options.trust_domain.data = (const char *) mcf->trust_domain.data;
    options.trust_domain.length = mcf->trust_domain.len;

    status = smi_policy_compile_paths(out, &diagnostics, paths, mcf->paths->nelts, &options);
    ngx_http_smi_log_diagnostics(cf->log, diagnostics);
    if (status == SMI_ERROR_COMPILE) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "smi_policy: the policy has %uz error(s) and was not loaded (%V)",
                      smi_diagnostics_error_count(diagnostics), &mcf->where);
    } else if (status != SMI_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "smi_policy: %s (%V)", smi_status_string(status), &mcf->where);
    }
    smi_diagnostics_free(diagnostics);
    return status == SMI_OK ? NGX_OK : NGX_ERROR;
}

static void
ngx_http_smi_release_policy(void *data)
{
    ngx_http_smi_main_conf_t *mcf = data;

    smi_policy_release(mcf->policy);
    mcf->policy = NULL;
}

static char *
ngx_http_smi_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_smi_main_conf_t *mcf = conf;
    ngx_pool_cleanup_t *cleanup;

    ngx_conf_init_value(mcf->full_path_match, 0);
    if (mcf->paths == NULL) {
        return NGX_CONF_OK;
    }

    if (smi_abi_version() != SMI_ABI_VERSION) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "smi_policy: libsmiengine has ABI %uD, this module was built for ABI %d",
                      smi_abi_version(), SMI_ABI_VERSION);
        return NGX_CONF_ERROR;
    }

    /* The cleanup is registered first, so that the policy is released with this configuration
     * whatever happens after it compiled. */
    cleanup = ngx_pool_cleanup_add(cf->pool, 0);
    if (cleanup == NULL) {
        return NGX_CONF_ERROR;
    }
    cleanup->handler = ngx_http_smi_release_policy;
    cleanup->data = mcf;

    if (ngx_http_smi_compile(cf, mcf, &mcf->policy) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0, "smi_policy: policy loaded (%V)", &mcf->where);
    return NGX_CONF_OK;
}

static void *
ngx_http_smi_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_smi_loc_conf_t *lcf;

    lcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_smi_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }
    lcf->access = NGX_CONF_UNSET;
    lcf->source = NGX_CONF_UNSET_PTR;
    lcf->destination = NGX_CONF_UNSET_PTR;
    lcf->port = NGX_CONF_UNSET_PTR;
    lcf->split_service = NGX_CONF_UNSET_PTR;
    lcf->split_key = NGX_CONF_UNSET_PTR;
    return lcf;
}

/* A peer inherited from an outer level gets a copy of its own, so that each location keeps its
 * own worker-local identity cache. Returns NULL when the outer level has none, and
 * NGX_CONF_UNSET_PTR when memory runs out. */
static ngx_http_smi_peer_t *
ngx_http_smi_inherit_peer(ngx_conf_t *cf, ngx_http_smi_peer_t *peer)
{
    ngx_http_smi_peer_t *copy;

    if (peer == NULL || peer == NGX_CONF_UNSET_PTR) {
        return NULL;
    }
    copy = ngx_palloc(cf->pool, sizeof(ngx_http_smi_peer_t));
    if (copy == NULL) {
        return NGX_CONF_UNSET_PTR;
    }
    copy->value = peer->value;
    ngx_memzero(&copy->cache, sizeof(copy->cache));
    return copy;
}

static char *
ngx_http_smi_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_smi_loc_conf_t *prev = parent;
    ngx_http_smi_loc_conf_t *conf = child;
    ngx_http_smi_main_conf_t *mcf;

    ngx_conf_merge_value(conf->access, prev->access, 0);
    if (conf->source == NGX_CONF_UNSET_PTR) {
        conf->source = ngx_http_smi_inherit_peer(cf, prev->source);
        if (conf->source == NGX_CONF_UNSET_PTR) {
            return NGX_CONF_ERROR;
        }
    }
    if (conf->destination == NGX_CONF_UNSET_PTR) {
        conf->destination = ngx_http_smi_inherit_peer(cf, prev->destination);
        if (conf->destination == NGX_CONF_UNSET_PTR) {
            return NGX_CONF_ERROR;
        }
    }
    ngx_conf_merge_ptr_value(conf->port, prev->port, NULL);
    if (conf->split_service == NGX_CONF_UNSET_PTR) {
        conf->split_service = prev->split_service == NGX_CONF_UNSET_PTR ? NULL : prev->split_service;
        conf->split_key = prev->split_key == NGX_CONF_UNSET_PTR ? NULL : prev->split_key;
    }
    if (conf->split_key == NGX_CONF_UNSET_PTR) {
        conf->split_key = NULL;
    }

    if (!conf->access && conf->split_service == NULL) {
        return NGX_CONF_OK;
    }
    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_smi_module);
    if (mcf->policy == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "smi_access or smi_split is used without an smi_policy");
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}

static char *
ngx_http_smi_peer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smi_peer_t **field = (ngx_http_smi_peer_t **) ((char *) conf + cmd->offset);
    ngx_http_compile_complex_value_t ccv;
    ngx_http_smi_peer_t *peer;
    ngx_str_t *value;

    if (*field != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    peer = ngx_pcalloc(cf->pool, sizeof(ngx_http_smi_peer_t));
    if (peer == NULL) {
        return NGX_CONF_ERROR;
    }
    peer->value = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (peer->value == NULL) {
        return NGX_CONF_ERROR;
    }
    value = cf->args->elts;
    ngx_memzero(&ccv, sizeof(ccv));
    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = peer->value;
    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    *field = peer;
    return NGX_CONF_OK;
}

static char *
ngx_http_smi_split(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smi_loc_conf_t *lcf = conf;
    ngx_http_compile_complex_value_t ccv;
    ngx_http_complex_value_t **targets[2];
    ngx_str_t *value;
    ngx_uint_t i;

    if (lcf->split_service != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    targets[0] = &lcf->split_service;
    targets[1] = &lcf->split_key;
    lcf->split_key = NULL;
    value = cf->args->elts;
    for (i = 1; i < cf->args->nelts; i++) {
        *targets[i - 1] = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (*targets[i - 1] == NULL) {
            return NGX_CONF_ERROR;
        }
        ngx_memzero(&ccv, sizeof(ccv));
        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = *targets[i - 1];
        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }
    return NGX_CONF_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Worker processes                                                                                 */
/* ---------------------------------------------------------------------------------------------- */

static ngx_int_t
ngx_http_smi_init_process(ngx_cycle_t *cycle)
{
    ngx_http_smi_main_conf_t *mcf;
    smi_status status;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_smi_module);
    if (mcf == NULL || mcf->policy == NULL) {
        return NGX_OK;
    }
    status = smi_scratch_create(&ngx_http_smi_scratch);
    if (status != SMI_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "smi: smi_scratch_create: %s", smi_status_string(status));
        return NGX_ERROR;
    }
    /* srandom() was seeded per worker (pid and time) before init_process */
    ngx_http_smi_random_state = ((uint64_t) ngx_random() << 33) ^ ((uint64_t) ngx_random() << 11)
                                ^ (uint64_t) ngx_random() ^ ((uint64_t) ngx_pid << 40);
    return NGX_OK;
}

static void
ngx_http_smi_exit_process(ngx_cycle_t *cycle)
{
    smi_scratch_free(ngx_http_smi_scratch);
    ngx_http_smi_scratch = NULL;
    ngx_free(ngx_http_smi_headers);
    ngx_http_smi_headers = NULL;
    ngx_http_smi_headers_capacity = 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Requests                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static ngx_http_smi_ctx_t *
ngx_http_smi_get_ctx(ngx_http_request_t *r)
{
    ngx_http_smi_ctx_t *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_smi_module);
    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_smi_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }
        ngx_http_set_ctx(r, ctx, ngx_http_smi_module);
    }
    return ctx;
}

/* The request headers as the engine wants them, in the worker's reusable buffer. */
static ngx_int_t
ngx_http_smi_collect_headers(ngx_http_request_t *r, const smi_header **headers, size_t *count)
{
    ngx_list_part_t *part;
    ngx_table_elt_t *h;
    ngx_uint_t i;
    size_t n = 0, capacity;
    smi_header *grown;

    for (part = &r->headers_in.headers.part; part != NULL; part = part->next) {
        n += part->nelts;
    }
    if (n > ngx_http_smi_headers_capacity) {
        capacity = ngx_max(n, 2 * ngx_http_smi_headers_capacity);
        capacity = ngx_max(capacity, 32);
        grown = ngx_alloc(capacity * sizeof(smi_header), r->connection->log);
        if (grown == NULL) {
            return NGX_ERROR;
        }
        ngx_free(ngx_http_smi_headers);
        ngx_http_smi_headers = grown;
        ngx_http_smi_headers_capacity = capacity;
    }
    n = 0;
    for (part = &r->headers_in.headers.part; part != NULL; part = part->next) {
        h = part->elts;
        for (i = 0; i < part->nelts; i++) {
            ngx_http_smi_headers[n].name.data = (const char *) h[i].key.data;
            ngx_http_smi_headers[n].name.length = h[i].key.len;
            ngx_http_smi_headers[n].value.data = (const char *) h[i].value.data;
            ngx_http_smi_headers[n].value.length = h[i].value.len;
            n++;
        }
    }
    *headers = ngx_http_smi_headers;
    *count = n;
    return NGX_OK;
}

/* The request target as the client sent it: nginx's $uri is already decoded and normalized, and
 * the engine must see the raw form to reject encoded slashes and apply its own normalization. */
static void
ngx_http_smi_target(ngx_http_request_t *r, smi_string *target)
{
    ngx_str_t *raw = r->main->unparsed_uri.len ? &r->main->unparsed_uri : &r->main->uri;

    target->data = (const char *) raw->data;
    target->length = raw->len;
}

static ngx_int_t
ngx_http_smi_port(ngx_http_request_t *r, ngx_http_smi_loc_conf_t *lcf, uint32_t *port)
{
    ngx_str_t value;
    ngx_int_t n;

    if (lcf->port == NULL) {
        if (ngx_connection_local_sockaddr(r->connection, NULL, 0) != NGX_OK) {
            return NGX_ERROR;
        }
        *port = ngx_inet_get_port(r->connection->local_sockaddr);
        return NGX_OK;
    }
    if (ngx_http_complex_value(r, lcf->port, &value) != NGX_OK) {
        return NGX_ERROR;
    }
    n = ngx_atoi(value.data, value.len);
    if (n == NGX_ERROR || n > 65535) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "smi_port: \"%V\" is not a port", &value);
        return NGX_ERROR;
    }
    *port = (uint32_t) n;
    return NGX_OK;
}

/* Fills one side of the request: the name always, the cache too when the value is constant. */
static ngx_int_t
ngx_http_smi_peer_value(ngx_http_request_t *r, ngx_http_smi_peer_t *peer, smi_identity **cache,
                        smi_string *name)
{
    ngx_str_t value;

    if (ngx_http_complex_value(r, peer->value, &value) != NGX_OK) {
        return NGX_ERROR;
    }
    name->data = (const char *) value.data;
    name->length = value.len;
    *cache = peer->value->lengths == NULL ? &peer->cache : NULL;
    return NGX_OK;
}

static ngx_int_t
ngx_http_smi_deny(ngx_http_request_t *r, ngx_http_smi_ctx_t *ctx)
{
    ngx_table_elt_t *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    h->hash = 1;
    ngx_str_set(&h->key, NGX_HTTP_SMI_DENY_HEADER);
    h->value = ctx->reason;
    return NGX_HTTP_FORBIDDEN;
}

static ngx_int_t
ngx_http_smi_access_handler(ngx_http_request_t *r)
{
    ngx_http_smi_main_conf_t *mcf;
    ngx_http_smi_loc_conf_t *lcf;
    ngx_http_smi_ctx_t *ctx;
    smi_access_request request;
    smi_access_decision decision;
    smi_status status;
    const char *reason;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smi_module);
    if (!lcf->access || r != r->main) {
        return NGX_DECLINED;
    }
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smi_module);
    ctx = ngx_http_smi_get_ctx(r);
    if (ctx == NULL || mcf->policy == NULL || ngx_http_smi_scratch == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (lcf->source == NULL || lcf->destination == NULL) {
        /* smi_access may be switched on at a level whose locations name the peers */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "smi: \"smi_access on\" in a location without smi_source or smi_destination");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ctx->decided) {
        return ctx->allowed ? NGX_OK : ngx_http_smi_deny(r, ctx);
    }

    ngx_memzero(&request, sizeof(request));
    request.size = sizeof(request);
    request.protocol = SMI_PROTOCOL_HTTP;
    if (ngx_http_smi_peer_value(r, lcf->source, &request.source, &request.source_name) != NGX_OK
        || ngx_http_smi_peer_value(r, lcf->destination, &request.destination, &request.destination_name) != NGX_OK
        || ngx_http_smi_port(r, lcf, &request.port) != NGX_OK
        || ngx_http_smi_collect_headers(r, &request.headers, &request.header_count) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (request.source_name.length == 0 || request.destination_name.length == 0) {
        /* no identity (the header is absent): deny without asking the engine */
        ctx->decided = 1;
        ngx_str_set(&ctx->reason, "no-identity");
        return ngx_http_smi_deny(r, ctx);
    }
    request.method.data = (const char *) r->method_name.data;
    request.method.length = r->method_name.len;
    ngx_http_smi_target(r, &request.target);

    ngx_memzero(&decision, sizeof(decision));
    decision.size = sizeof(decision);
    status = smi_policy_decide_access(&decision, mcf->policy, ngx_http_smi_scratch, &request);

    ctx->decided = 1;
    if (status != SMI_OK) {
        /* fail closed */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "smi: access decision failed: %s",
                      smi_status_string(status));
        ctx->allowed = 0;
        ngx_str_set(&ctx->reason, "error");
        return ngx_http_smi_deny(r, ctx);
    }

    ctx->allowed = decision.allowed ? 1 : 0;
    reason = smi_reason_string(decision.reason);
    ctx->reason.data = (u_char *) reason;
    ctx->reason.len = ngx_strlen(reason);
    ctx->traffic_target.data = (u_char *) decision.traffic_target.data;
    ctx->traffic_target.len = decision.traffic_target.length;
    ctx->rule_kind.data = (u_char *) decision.rule_kind.data;
    ctx->rule_kind.len = decision.rule_kind.length;
    ctx->match.data = (u_char *) decision.match.data;
    ctx->match.len = decision.match.length;
    if (decision.normalized_path.length > 0) {
        ctx->normalized_path.data = ngx_pnalloc(r->pool, decision.normalized_path.length);
        if (ctx->normalized_path.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_memcpy(ctx->normalized_path.data, decision.normalized_path.data, decision.normalized_path.length);
        ctx->normalized_path.len = decision.normalized_path.length;
    }

    if (!ctx->allowed) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "smi: denied \"%*s\" -> \"%*s\": %V",
                      request.source_name.length, request.source_name.data, request.destination_name.length,
                      request.destination_name.data, &ctx->reason);
        return ngx_http_smi_deny(r, ctx);
    }
    return NGX_OK;
}

/* splitmix64 (Steele, Lea, Flood 2014): a well-mixed 64-bit value per step. */
static uint64_t
ngx_http_smi_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
ngx_http_smi_entropy(ngx_http_request_t *r, ngx_http_smi_loc_conf_t *lcf, ngx_int_t *rc)
{
    ngx_str_t key;
    uint64_t hash = 0xcbf29ce484222325ULL; /* FNV-1a 64 offset basis */
    size_t i;

    *rc = NGX_OK;
    if (lcf->split_key == NULL) {
        ngx_http_smi_random_state += 0x9e3779b97f4a7c15ULL;
        return ngx_http_smi_mix64(ngx_http_smi_random_state);
    }
    if (ngx_http_complex_value(r, lcf->split_key, &key) != NGX_OK) {
        *rc = NGX_ERROR;
        return 0;
    }
    for (i = 0; i < key.len; i++) {
        hash = (hash ^ key.data[i]) * 0x100000001b3ULL;
    }
    return ngx_http_smi_mix64(hash);
}

/* Decides the split once per request, when $smi_backend (or $smi_traffic_split) is first read. */
static ngx_int_t
ngx_http_smi_split_decide(ngx_http_request_t *r, ngx_http_smi_ctx_t *ctx)
{
    ngx_http_smi_main_conf_t *mcf;
    ngx_http_smi_loc_conf_t *lcf;
    smi_split_request request;
    smi_split_decision decision;
    ngx_str_t service;
    smi_status status;
    ngx_int_t rc;
    u_char *slash, *p, *end;
    size_t ns_len, name_len;

    if (ctx->split_done) {
        return NGX_OK;
    }
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smi_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smi_module);
    if (lcf->split_service == NULL || mcf->policy == NULL || ngx_http_smi_scratch == NULL) {
        return NGX_DECLINED;
    }
    if (ngx_http_complex_value(r, lcf->split_service, &service) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&request, sizeof(request));
    request.size = sizeof(request);
    request.flags = SMI_SPLIT_HAS_METHOD | SMI_SPLIT_HAS_TARGET | SMI_SPLIT_HAS_PORT;
    request.entropy = ngx_http_smi_entropy(r, lcf, &rc);
    if (rc != NGX_OK || ngx_http_smi_port(r, lcf, &request.port) != NGX_OK
        || ngx_http_smi_collect_headers(r, &request.headers, &request.header_count) != NGX_OK)
    {
        return NGX_ERROR;
    }
    request.service.data = (const char *) service.data;
    request.service.length = service.len;
    request.method.data = (const char *) r->method_name.data;
    request.method.length = r->method_name.len;
    ngx_http_smi_target(r, &request.target);

    ngx_memzero(&decision, sizeof(decision));
    decision.size = sizeof(decision);
    status = smi_policy_select_backend(&decision, mcf->policy, ngx_http_smi_scratch, &request);
    if (status != SMI_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "smi: split for \"%V\" failed: %s", &service,
                      smi_status_string(status));
        return NGX_ERROR;
    }
    ctx->split_done = 1;
    /* backend is borrowed from the policy, or is `service` (in r->pool) when no split applied */
    ctx->backend_service.data = (u_char *) decision.backend.data;
    ctx->backend_service.len = decision.backend.length;
    ctx->traffic_split.data = (u_char *) decision.traffic_split.data;
    ctx->traffic_split.len = decision.traffic_split.length;

    /* "namespace/name" -> "name.namespace" (a host name; no namespace: the name alone) */
    p = ctx->backend_service.data;
    end = p + ctx->backend_service.len;
    slash = ngx_strlchr(p, end, '/');
    if (slash == NULL) {
        ctx->backend = ctx->backend_service;
        return NGX_OK;
    }
    ns_len = slash - p;
    name_len = end - slash - 1;
    ctx->backend.data = ngx_pnalloc(r->pool, ns_len + name_len + 1);
    if (ctx->backend.data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(ctx->backend.data, slash + 1, name_len);
    ctx->backend.data[name_len] = '.';
    ngx_memcpy(ctx->backend.data + name_len + 1, p, ns_len);
    ctx->backend.len = ns_len + name_len + 1;
    return NGX_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Variables                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

enum {
    NGX_HTTP_SMI_VAR_DECISION,
    NGX_HTTP_SMI_VAR_REASON,
    NGX_HTTP_SMI_VAR_TRAFFIC_TARGET,
    NGX_HTTP_SMI_VAR_RULE_KIND,
    NGX_HTTP_SMI_VAR_MATCH,
    NGX_HTTP_SMI_VAR_PATH,
    NGX_HTTP_SMI_VAR_BACKEND,
    NGX_HTTP_SMI_VAR_BACKEND_SERVICE,
    NGX_HTTP_SMI_VAR_TRAFFIC_SPLIT
};

static ngx_int_t
ngx_http_smi_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_smi_ctx_t *ctx;
    ngx_str_t value = ngx_null_string;
    ngx_int_t rc;

    v->not_found = 1;
    ctx = ngx_http_get_module_ctx(r->main, ngx_http_smi_module);
    if (data >= NGX_HTTP_SMI_VAR_BACKEND) {
        if (ctx == NULL) {
            ctx = ngx_http_smi_get_ctx(r->main);
            if (ctx == NULL) {
                return NGX_ERROR;
            }
        }
        rc = ngx_http_smi_split_decide(r->main, ctx);
        if (rc == NGX_DECLINED) {
            return NGX_OK;
        }
        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    } else if (ctx == NULL || !ctx->decided) {
        return NGX_OK;
    }

    switch (data) {
    case NGX_HTTP_SMI_VAR_DECISION:
        if (ctx->allowed) {
            ngx_str_set(&value, "allow");
        } else {
            ngx_str_set(&value, "deny");
        }
        break;
    case NGX_HTTP_SMI_VAR_REASON:
        value = ctx->reason;
        break;
    case NGX_HTTP_SMI_VAR_TRAFFIC_TARGET:
        value = ctx->traffic_target;
        break;
    case NGX_HTTP_SMI_VAR_RULE_KIND:
        value = ctx->rule_kind;
        break;
    case NGX_HTTP_SMI_VAR_MATCH:
        value = ctx->match;
        break;
    case NGX_HTTP_SMI_VAR_PATH:
        value = ctx->normalized_path;
        break;
    case NGX_HTTP_SMI_VAR_BACKEND:
        value = ctx->backend;
        break;
    case NGX_HTTP_SMI_VAR_BACKEND_SERVICE:
        value = ctx->backend_service;
        break;
    case NGX_HTTP_SMI_VAR_TRAFFIC_SPLIT:
        value = ctx->traffic_split;
        break;
    }
    if (value.len == 0) {
        return NGX_OK;
    }
    v->data = value.data;
    v->len = value.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

static ngx_http_variable_t ngx_http_smi_variables[] = {
    { ngx_string("smi_decision"), NULL, ngx_http_smi_variable, NGX_HTTP_SMI_VAR_DECISION,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("smi_reason"), NULL, ngx_http_smi_variable, NGX_HTTP_SMI_VAR_REASON,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("smi_traffic_target"), NULL, ngx_http_smi_variable, NGX_HTTP_SMI_VAR_TRAFFIC_TARGET,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("smi_rule_kind"), NULL, ngx_http_smi_variable, NGX_HTTP_SMI_VAR_RULE_KIND,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("smi_match"), NULL, ngx_http_smi_variable, NGX_HTTP_SMI_VAR_MATCH,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("smi_path"), NULL, ngx_http_smi_variable, NGX_HTTP_SMI_VAR_PATH,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("smi_backend"), NULL, ngx_http_smi_variable, NGX_HTTP_SMI_VAR_BACKEND,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("smi_backend_service"), NULL, ngx_http_smi_variable, NGX_HTTP_SMI_VAR_BACKEND_SERVICE,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },
    { ngx_string("smi_traffic_split"), NULL, ngx_http_smi_variable, NGX_HTTP_SMI_VAR_TRAFFIC_SPLIT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },
    ngx_http_null_variable
};

static ngx_int_t
ngx_http_smi_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t *var, *v;

    for (v = ngx_http_smi_variables; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }
        var->get_handler = v->get_handler;
        var->data = v->data;
    }
    return NGX_OK;
}

static ngx_int_t
ngx_http_smi_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt *h;
    ngx_http_core_main_conf_t *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_http_smi_access_handler;
    return NGX_OK;
}
