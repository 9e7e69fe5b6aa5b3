"""The C declarations of every kernel struct and libc function pybpf uses (cffi syntax).

Each ``bpf_attr`` member is its own struct (``attr_<cmd>``): the kernel accepts a shorter
attr than its union as long as the bytes it does not receive would be zero.
"""

CDEF = r"""
long syscall(long number, ...);
int ioctl(int fd, unsigned long request, ...);
void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
int munmap(void *addr, size_t length);

struct attr_map_create {
    uint32_t map_type; uint32_t key_size; uint32_t value_size; uint32_t max_entries;
    uint32_t map_flags; uint32_t inner_map_fd; uint32_t numa_node; char map_name[16];
    uint32_t map_ifindex; uint32_t btf_fd; uint32_t btf_key_type_id;
    uint32_t btf_value_type_id; uint32_t btf_vmlinux_value_type_id; uint64_t map_extra;
};

struct attr_map_elem {
    uint32_t map_fd; uint64_t key; uint64_t value; uint64_t flags;
};

struct attr_map_batch {
    uint64_t in_batch; uint64_t out_batch; uint64_t keys; uint64_t values;
    uint32_t count; uint32_t map_fd; uint64_t elem_flags; uint64_t flags;
};

struct attr_prog_load {
    uint32_t prog_type; uint32_t insn_cnt; uint64_t insns; uint64_t license;
    uint32_t log_level; uint32_t log_size; uint64_t log_buf; uint32_t kern_version;
    uint32_t prog_flags; char prog_name[16]; uint32_t prog_ifindex;
    uint32_t expected_attach_type; uint32_t prog_btf_fd; uint32_t func_info_rec_size;
    uint64_t func_info; uint32_t func_info_cnt; uint32_t line_info_rec_size;
    uint64_t line_info; uint32_t line_info_cnt; uint32_t attach_btf_id;
    uint32_t attach_btf_obj_fd; uint32_t core_relo_cnt; uint64_t fd_array;
    uint64_t core_relos; uint32_t core_relo_rec_size; uint32_t log_true_size;
};

struct attr_obj_pin {
    uint64_t pathname; uint32_t bpf_fd; uint32_t file_flags;
};

struct attr_prog_attach {
    uint32_t target_fd; uint32_t attach_bpf_fd; uint32_t attach_type;
    uint32_t attach_flags; uint32_t replace_bpf_fd;
};

struct attr_test_run {
    uint32_t prog_fd; uint32_t retval; uint32_t data_size_in; uint32_t data_size_out;
    uint64_t data_in; uint64_t data_out; uint32_t repeat; uint32_t duration;
    uint32_t ctx_size_in; uint32_t ctx_size_out; uint64_t ctx_in; uint64_t ctx_out;
    uint32_t flags; uint32_t cpu; uint32_t batch_size;
};

struct attr_get_id {
    uint32_t start_id; uint32_t next_id; uint32_t open_flags;
};

struct attr_info {
    uint32_t bpf_fd; uint32_t info_len; uint64_t info;
};

struct attr_raw_tp {
    uint64_t name; uint32_t prog_fd; uint32_t pad; uint64_t cookie;
};

struct attr_btf_load {
    uint64_t btf; uint64_t btf_log_buf; uint32_t btf_size; uint32_t btf_log_size;
    uint32_t btf_log_level; uint32_t btf_log_true_size;
};

struct attr_link_create {
    uint32_t prog_fd; uint32_t target_fd; uint32_t attach_type; uint32_t flags;
    union {
        uint32_t target_btf_id;
        struct { uint64_t bpf_cookie; } perf_event;
        struct { uint32_t flags; uint32_t cnt; uint64_t syms; uint64_t addrs;
                 uint64_t cookies; } kprobe_multi;
        struct { uint32_t target_btf_id; uint64_t cookie; } tracing;
        struct { uint32_t relative_fd; uint64_t expected_revision; } tcx;
        struct { uint64_t path; uint64_t offsets; uint64_t ref_ctr_offsets;
                 uint64_t cookies; uint32_t cnt; uint32_t flags; uint32_t pid; } uprobe_multi;
    };
};

struct attr_link_fd {
    uint32_t link_fd;
};

struct attr_map_freeze {
    uint32_t map_fd;
};

struct bpf_prog_info {
    uint32_t type; uint32_t id; uint8_t tag[8]; uint32_t jited_prog_len;
    uint32_t xlated_prog_len; uint64_t jited_prog_insns; uint64_t xlated_prog_insns;
    uint64_t load_time; uint32_t created_by_uid; uint32_t nr_map_ids; uint64_t map_ids;
    char name[16]; uint32_t ifindex; uint32_t gpl_compatible; uint64_t netns_dev;
    uint64_t netns_ino; uint32_t nr_jited_ksyms; uint32_t nr_jited_func_lens;
    uint64_t jited_ksyms; uint64_t jited_func_lens; uint32_t btf_id;
    uint32_t func_info_rec_size; uint64_t func_info; uint32_t nr_func_info;
    uint32_t nr_line_info; uint64_t line_info; uint64_t jited_line_info;
    uint32_t nr_jited_line_info; uint32_t line_info_rec_size;
    uint32_t jited_line_info_rec_size; uint32_t nr_prog_tags; uint64_t prog_tags;
    uint64_t run_time_ns; uint64_t run_cnt; uint64_t recursion_misses;
    uint32_t verified_insns; uint32_t attach_btf_obj_id; uint32_t attach_btf_id;
};

struct bpf_map_info {
    uint32_t type; uint32_t id; uint32_t key_size; uint32_t value_size;
    uint32_t max_entries; uint32_t map_flags; char name[16]; uint32_t ifindex;
    uint32_t btf_vmlinux_value_type_id; uint64_t netns_dev; uint64_t netns_ino;
    uint32_t btf_id; uint32_t btf_key_type_id; uint32_t btf_value_type_id;
    uint32_t btf_vmlinux_id; uint64_t map_extra;
};

struct bpf_btf_info {
    uint64_t btf; uint32_t btf_size; uint32_t id; uint64_t name; uint32_t name_len;
    uint32_t kernel_btf;
};

struct bpf_link_info {
    uint32_t type; uint32_t id; uint32_t prog_id;
    union {
        struct { uint64_t tp_name; uint32_t tp_name_len; } raw_tracepoint;
        struct { uint32_t attach_type; uint32_t target_obj_id; uint32_t target_btf_id; } tracing;
        struct { uint64_t cgroup_id; uint32_t attach_type; } cgroup;
        struct { uint32_t ifindex; } xdp;
        struct { uint32_t ifindex; uint32_t attach_type; } tcx;
        uint8_t raw[64];
    };
};

struct perf_event_attr {
    uint32_t type; uint32_t size; uint64_t config; uint64_t sample_period;
    uint64_t sample_type; uint64_t read_format; uint64_t flags;
    uint32_t wakeup_events; uint32_t bp_type; uint64_t config1; uint64_t config2;
    uint64_t branch_sample_type; uint64_t sample_regs_user; uint32_t sample_stack_user;
    int32_t clockid; uint64_t sample_regs_intr; uint32_t aux_watermark;
    uint16_t sample_max_stack; uint16_t reserved_2; uint32_t aux_sample_size;
    uint32_t reserved_3; uint64_t sig_data; uint64_t config3;
};
"""
