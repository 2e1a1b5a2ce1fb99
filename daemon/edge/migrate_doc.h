/* The migration document of vm.export / vm.import (DESIGN.md §8), version 1:
 *
 *   {"format":"pasidd-vm", "version":1, "vm":NAME, "uuid":UUID, "mode":"translated"|"identity",
 *    "pasid_bits":N, "devices":[{"device":BDF, "shared":BOOL}...],
 *    "mappings":[{"gpasid":G, "type":"shared"|"local", "device":BDF?, "wq":WQ?, "hpasid":H?}...]}
 *
 * Guest-visible facts only. pasid_bits is the PASID width the guest was given: the source
 * host's width (daemon.status backend.pasid_bits), which is what a VMM's vIOMMU reports. hpasid
 * appears in an identity-mode VM's mappings only, where it equals gpasid; a translated VM's
 * hPASIDs belong to the source host and are never exported. devices are sorted by BDF and
 * mappings by gPASID, members in the order above, so that one VM exports to the same bytes.
 *
 * Reading is strict: every member named, known, of its type and range, at most
 * NS_IMPORT_MAX_MAPPINGS mappings and NS_IMPORT_MAX_DEVICES devices, no gPASID or device twice,
 * a local mapping on an exclusive device of the document. A version above 1 is 1007
 * unsupported; every other fault -32602 naming the member ("document.mappings[3].gpasid"). */
#ifndef PASIDD_MIGRATE_DOC_H
#define PASIDD_MIGRATE_DOC_H

#include <json-c/json.h>

#include "ns_import.h"

#define MIGRATE_FORMAT  "pasidd-vm"
#define MIGRATE_VERSION 1

struct migrate_err {
	int code; /* a PROTO_E_* */
	char param[96];
	char message[200];
};

/* A document read, its devices and work queues mapped to this host's. The strings point into
 * the JSON objects given, which must outlive it. */
struct migrate_doc {
	struct ns_import im;
	char name[NS_VM_NAME_MAX + 1];
};

/* Reads doc; devices and wqs (NULL: none) map source BDFs and work queue names to this host's
 * ({"0000:00:04.0":"0000:00:05.0"}), named "devices" and "wqs" in errors. 0, or -EINVAL
 * (-ENOMEM) with e filled. */
int migrate_doc_read(struct json_object *doc, struct json_object *devices, struct json_object *wqs,
                     struct migrate_doc *out, struct migrate_err *e);
void migrate_doc_free(struct migrate_doc *d);

/* The document of a VM; NULL on ENOMEM. */
struct json_object *migrate_doc_export(const struct ns *ns, const struct ns_vm *vm);

#endif
