/* The MESSAGE_ID= of each kind of audit entry (audit.h), made once with `systemd-id128 new`
 * and never changed: `journalctl MESSAGE_ID=...` and systemd/pasidd.catalog find entries by
 * them. A new kind takes a new id (`systemd-id128 new`), never one of these. */
#ifndef PASIDD_AUDIT_IDS_H
#define PASIDD_AUDIT_IDS_H

#define AUDIT_ID_VM_REGISTER     "cbde805389834b929e750f98dedea721"
#define AUDIT_ID_VM_OWNER        "d5129ba2efca4d5ba2aec3aa2ac48bc8"
#define AUDIT_ID_VM_UNREGISTER   "264fc57b764f420a9116cb2eba755268"
#define AUDIT_ID_VM_RECLAIM      "4dd6b103cc3e4b598d688d1863b4839b"
#define AUDIT_ID_DEVICE_ASSIGN   "b2f1f9dcba6046c297dd35c4c9e92f59"
#define AUDIT_ID_DEVICE_RELEASE  "b737d9ec2e4946ebb7c0900e89c06d4e"
#define AUDIT_ID_PASID_ALLOC     "3b580e81468b4661afbeccb8e141cb88"
#define AUDIT_ID_PASID_FREE      "cbbaef457dd54f92a743ff94b52e1c00"
#define AUDIT_ID_PASID_ATTACH    "3453d3dfa89a425bad25a1f80ac0f2b2"
#define AUDIT_ID_PASID_DETACH    "b1cca6f0976548948ef1e79d6286aea7"
#define AUDIT_ID_QUOTA_SET       "213a3b31ab80409e9cda94e20d3490d9"
#define AUDIT_ID_CONFIG_RELOAD   "8d7a39afe239465c80be50983aa86a34"
#define AUDIT_ID_DAEMON_START    "ada33979fe134a679839652934cddf00"
#define AUDIT_ID_WQ_CONFIGURE    "14d72a3a6bda42a0af62961a7c4c29f4"
#define AUDIT_ID_EVENTS_LOST     "2ce5badb888647f2b7ecef045a4ed7a2"
#define AUDIT_ID_DEVICE_ATTACH   "c5077f0df9f74e1a8ee66449ebfaab16"
#define AUDIT_ID_DEVICE_DETACH   "d4ae8788fa1e41eeb6da37acb9dcc348"
#define AUDIT_ID_VM_IMPORT       "4d5c02946e4d49a6b32d5df27d8bcd20"
#define AUDIT_ID_RANGE_RESERVE   "ae61c0c3ba654473840f49177a8e2a02"
#define AUDIT_ID_RANGE_UNRESERVE "6c325177b411424f800850a64a73011e"

#endif
