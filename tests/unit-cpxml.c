/* Unit tests of the checkpoint XML reader and writer (driver/cpxml.c). */
#include "unit-common.h"
#include "driver/cpxml.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libxml/parser.h>

/* Real output of libvirt 9.0 (test:///default):
 *   checkpoint-create-as test a; checkpoint-create-as test b
 *   checkpoint-dumpxml test a --no-domain */
static const char xml_a[] =
    "<domaincheckpoint>\n"
    "  <name>a</name>\n"
    "  <creationTime>1795634211</creationTime>\n"
    "  <disks>\n"
    "    <disk name='vda' checkpoint='bitmap' bitmap='a'/>\n"
    "  </disks>\n"
    "</domaincheckpoint>\n";

/* checkpoint-dumpxml test b --no-domain */
static const char xml_b_no_domain[] =
    "<domaincheckpoint>\n"
    "  <name>b</name>\n"
    "  <parent>\n"
    "    <name>a</name>\n"
    "  </parent>\n"
    "  <creationTime>1795634211</creationTime>\n"
    "  <disks>\n"
    "    <disk name='vda' checkpoint='bitmap' bitmap='b'/>\n"
    "  </disks>\n"
    "</domaincheckpoint>\n";

/* checkpoint-dumpxml test b: the domain's own <name> is "test". */
static const char xml_b_domain[] =
    "<domaincheckpoint>\n"
    "  <name>b</name>\n"
    "  <parent>\n"
    "    <name>a</name>\n"
    "  </parent>\n"
    "  <creationTime>1795634211</creationTime>\n"
    "  <disks>\n"
    "    <disk name='vda' checkpoint='bitmap' bitmap='b'/>\n"
    "  </disks>\n"
    "  <domain type='test'>\n"
    "    <name>test</name>\n"
    "    <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\n"
    "    <memory unit='KiB'>8388608</memory>\n"
    "    <currentMemory unit='KiB'>2097152</currentMemory>\n"
    "    <vcpu placement='static'>2</vcpu>\n"
    "    <os>\n"
    "      <type arch='i686'>hvm</type>\n"
    "      <boot dev='hd'/>\n"
    "    </os>\n"
    "    <clock offset='utc'/>\n"
    "    <on_poweroff>destroy</on_poweroff>\n"
    "    <on_reboot>restart</on_reboot>\n"
    "    <on_crash>destroy</on_crash>\n"
    "    <devices>\n"
    "      <disk type='file' device='disk'>\n"
    "        <source file='/guest/diskimage1'/>\n"
    "        <target dev='vda' bus='virtio'/>\n"
    "        <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
    "      </disk>\n"
    "      <interface type='network'>\n"
    "        <mac address='aa:bb:cc:dd:ee:ff'/>\n"
    "        <source network='default'/>\n"
    "        <target dev='testnet0'/>\n"
    "        <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>\n"
    "      </interface>\n"
    "      <memballoon model='virtio'>\n"
    "        <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>\n"
    "      </memballoon>\n"
    "    </devices>\n"
    "  </domain>\n"
    "</domaincheckpoint>\n";

static CpfsCheckpointRecord *
parse_str(const char *xml)
{
    return cpfs_cpxml_parse(xml, strlen(xml));
}

/* Parses XML from an exactly sized heap copy without a terminating NUL, so
 * that reading past LEN shows up under AddressSanitizer. */
static CpfsCheckpointRecord *
parse_exact(const char *xml)
{
    gsize len = strlen(xml);
    g_autofree char *copy = g_malloc(len ? len : 1);

    memcpy(copy, xml, len);
    return cpfs_cpxml_parse(copy, len);
}

/* ------------------------------------------------------------------------ */
/* Parsing libvirt's own output */

static void
test_parse_root(void)
{
    g_autoptr(CpfsCheckpointRecord) rec = parse_exact(xml_a);

    g_assert_nonnull(rec);
    g_assert_cmpstr(rec->name, ==, "a");
    g_assert_null(rec->parent);
    g_assert_cmpint(rec->creation_time, ==, 1795634211);
}

static void
test_parse_parent(void)
{
    g_autoptr(CpfsCheckpointRecord) rec = parse_exact(xml_b_no_domain);

    g_assert_nonnull(rec);
    g_assert_cmpstr(rec->name, ==, "b");
    g_assert_cmpstr(rec->parent, ==, "a");
    g_assert_cmpint(rec->creation_time, ==, 1795634211);
}

static void
test_parse_domain(void)
{
    g_autoptr(CpfsCheckpointRecord) rec = parse_exact(xml_b_domain);

    g_assert_nonnull(rec);
    g_assert_cmpstr(rec->name, ==, "b");
    g_assert_cmpstr(rec->parent, ==, "a");
    g_assert_cmpint(rec->creation_time, ==, 1795634211);
}

/* The embedded domain's <name> is never the checkpoint's, wherever it is. */
static void
test_parse_domain_name_first(void)
{
    const char domain_first[] =
        "<domaincheckpoint>"
        "<domain type='kvm'><name>guest</name><uuid>x</uuid></domain>"
        "<parent><name>p</name></parent>"
        "<name>cp</name>"
        "<creationTime>5</creationTime>"
        "</domaincheckpoint>";
    const char only_domain_name[] =
        "<domaincheckpoint>"
        "<parent><name>p</name></parent>"
        "<creationTime>5</creationTime>"
        "<domain type='kvm'><name>guest</name></domain>"
        "</domaincheckpoint>";
    const char only_parent_name[] =
        "<domaincheckpoint><parent><name>p</name></parent></domaincheckpoint>";
    /* A creationTime inside the domain is not the checkpoint's. */
    const char domain_time[] =
        "<domaincheckpoint><name>c</name>"
        "<domain><creationTime>77</creationTime><name>guest</name></domain>"
        "</domaincheckpoint>";
    g_autoptr(CpfsCheckpointRecord) rec = parse_exact(domain_first);
    g_autoptr(CpfsCheckpointRecord) rec2 = parse_exact(only_domain_name);
    g_autoptr(CpfsCheckpointRecord) rec3 = parse_exact(only_parent_name);
    g_autoptr(CpfsCheckpointRecord) rec4 = parse_exact(domain_time);

    g_assert_nonnull(rec);
    g_assert_cmpstr(rec->name, ==, "cp");
    g_assert_cmpstr(rec->parent, ==, "p");
    g_assert_cmpint(rec->creation_time, ==, 5);
    /* No name of its own: not a usable checkpoint document. */
    g_assert_null(rec2);
    g_assert_null(rec3);
    g_assert_nonnull(rec4);
    g_assert_cmpstr(rec4->name, ==, "c");
    g_assert_cmpint(rec4->creation_time, ==, 0);
}

/* LEN bounds the document: what follows is not read. */
static void
test_parse_len(void)
{
    g_autofree char *padded = g_strconcat(xml_b_no_domain, "<garbage", NULL);
    g_autoptr(CpfsCheckpointRecord) rec = cpfs_cpxml_parse(padded, strlen(xml_b_no_domain));
    g_autoptr(CpfsCheckpointRecord) cut = cpfs_cpxml_parse(xml_a, 30);
    g_autoptr(CpfsCheckpointRecord) whole_padded = parse_str(padded);

    g_assert_nonnull(rec);
    g_assert_cmpstr(rec->name, ==, "b");
    g_assert_null(cut);
    g_assert_null(whole_padded);
    g_assert_null(cpfs_cpxml_parse(xml_a, 0));
    g_assert_null(cpfs_cpxml_parse(NULL, 0));
    g_assert_null(cpfs_cpxml_parse(NULL, 10));
}

/* ------------------------------------------------------------------------ */
/* creationTime */

static gint64
time_of(const char *time_xml)
{
    g_autofree char *xml = g_strdup_printf(
        "<domaincheckpoint><name>t</name>%s</domaincheckpoint>", time_xml);
    g_autoptr(CpfsCheckpointRecord) rec = parse_exact(xml);

    g_assert_nonnull(rec);
    g_assert_cmpstr(rec->name, ==, "t");
    return rec->creation_time;
}

static void
test_creation_time(void)
{
    g_assert_cmpint(time_of("<creationTime>1700000000</creationTime>"), ==, 1700000000);
    g_assert_cmpint(time_of("<creationTime>0</creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>1</creationTime>"), ==, 1);
    /* beyond 32 bits */
    g_assert_cmpint(time_of("<creationTime>4102444800</creationTime>"), ==, 4102444800LL);
    /* surrounding white space, as a pretty-printer would leave it */
    g_assert_cmpint(time_of("<creationTime>\n  42\n</creationTime>"), ==, 42);

    /* missing or unusable: 0 */
    g_assert_cmpint(time_of(""), ==, 0);
    g_assert_cmpint(time_of("<creationTime/>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime></creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>   </creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>soon</creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>12abc</creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>abc12</creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>1.5</creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>1 2</creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>0x10</creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>-5</creationTime>"), ==, 0);
    /* in the wrong place */
    g_assert_cmpint(time_of("<parent><creationTime>9</creationTime></parent>"), ==, 0);
}

/* A number too large for gint64 is as unusable as one that is not a number:
 * it must not turn into G_MAXINT64 (the year 292 billion) in stat. */
static void
test_creation_time_range(void)
{
    g_assert_cmpint(time_of("<creationTime>9223372036854775807</creationTime>"), ==,
                    G_MAXINT64);
    g_assert_cmpint(time_of("<creationTime>9223372036854775808</creationTime>"), ==, 0);
    g_assert_cmpint(time_of("<creationTime>99999999999999999999</creationTime>"), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* What is not a checkpoint document */

static void
test_parse_rejects(void)
{
    const char *bad[] = {
        /* wrong root element */
        "<domainsnapshot><name>a</name></domainsnapshot>",
        "<domain><name>a</name></domain>",
        "<DomainCheckpoint><name>a</name></DomainCheckpoint>",
        "<checkpoint><name>a</name></checkpoint>",
        "<name>a</name>",
        /* malformed */
        "",
        " ",
        "not xml at all",
        "<domaincheckpoint><name>a</name>",
        "<domaincheckpoint><name>a</domaincheckpoint>",
        "<domaincheckpoint><name>a</name></domaincheckpoint><domaincheckpoint/>",
        "<domaincheckpoint><name>a&</name></domaincheckpoint>",
        "<domaincheckpoint><name>a&undefined;</name></domaincheckpoint>",
        "<domaincheckpoint><name>a<b</name></domaincheckpoint>",
        "<domaincheckpoint",
        "<?xml version='1.0'?>",
        "<domaincheckpoint><name>\xff\xfe</name></domaincheckpoint>",
        /* no name, or an empty one */
        "<domaincheckpoint/>",
        "<domaincheckpoint></domaincheckpoint>",
        "<domaincheckpoint><name></name></domaincheckpoint>",
        "<domaincheckpoint><name/></domaincheckpoint>",
        "<domaincheckpoint><name>   </name></domaincheckpoint>",
        "<domaincheckpoint><name>\n</name><creationTime>5</creationTime></domaincheckpoint>",
        "<domaincheckpoint><names>a</names></domaincheckpoint>",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(CpfsCheckpointRecord) rec = NULL;
        g_autofree char *shown = g_strescape(bad[i], NULL);

        g_test_message("rejects: %s", shown);
        rec = parse_exact(bad[i]);
        if (rec)
            g_test_message("... but got name '%s'", rec->name);
        g_assert_null(rec);
    }
}

static void
test_parse_details(void)
{
    const struct {
        const char *xml;
        const char *name;
        const char *parent;
    } cases[] = {
        { "<?xml version='1.0' encoding='UTF-8'?>\n"
          "<domaincheckpoint><name>decl</name></domaincheckpoint>", "decl", NULL },
        { "<!-- c --><domaincheckpoint><!-- c --><name>com</name></domaincheckpoint>",
          "com", NULL },
        { "<domaincheckpoint><name>a&amp;b&lt;c&gt;&quot;&apos;</name></domaincheckpoint>",
          "a&b<c>\"'", NULL },
        { "<domaincheckpoint><name>&#x41;&#66;</name></domaincheckpoint>", "AB", NULL },
        { "<domaincheckpoint><name><![CDATA[cd<a>ta]]></name></domaincheckpoint>",
          "cd<a>ta", NULL },
        { "<domaincheckpoint><name>caf\xc3\xa9</name></domaincheckpoint>",
          "caf\xc3\xa9", NULL },
        /* an empty or nameless parent is no parent */
        { "<domaincheckpoint><name>x</name><parent/></domaincheckpoint>", "x", NULL },
        { "<domaincheckpoint><name>x</name><parent><name/></parent></domaincheckpoint>",
          "x", NULL },
        { "<domaincheckpoint><name>x</name><parent></parent></domaincheckpoint>", "x", NULL },
        { "<domaincheckpoint><name>x</name><parent>p</parent></domaincheckpoint>", "x", NULL },
        /* an unknown element is ignored */
        { "<domaincheckpoint><description>d</description><name>x</name>"
          "<parent><name>p</name></parent><future/></domaincheckpoint>", "x", "p" },
        /* attributes on the root are fine */
        { "<domaincheckpoint xmlns:q='urn:x' q:a='1'><name>attr</name></domaincheckpoint>",
          "attr", NULL },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(CpfsCheckpointRecord) rec = parse_exact(cases[i].xml);

        g_test_message("case %" G_GSIZE_FORMAT ": %s", i, cases[i].xml);
        g_assert_nonnull(rec);
        g_assert_cmpstr(rec->name, ==, cases[i].name);
        g_assert_cmpstr(rec->parent, ==, cases[i].parent);
    }
}

/* ------------------------------------------------------------------------ */
/* No network, no external entities */

typedef struct {
    int fd;
    int port;
    gint stop;
    gint connections;
    GThread *thread;
} FakeServer;

/* Answers every connection with a small body, so that a parser that does
 * fetch cannot hang, and counts the connections. */
static gpointer
fake_server_run(gpointer data)
{
    FakeServer *srv = data;
    static const char reply[] =
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nFETCHED";

    while (!g_atomic_int_get(&srv->stop)) {
        struct pollfd pfd = { .fd = srv->fd, .events = POLLIN };
        int conn;
        char buf[1024];

        if (poll(&pfd, 1, 50) <= 0)
            continue;
        conn = accept(srv->fd, NULL, NULL);
        if (conn < 0)
            continue;
        g_atomic_int_inc(&srv->connections);
        pfd.fd = conn;
        if (poll(&pfd, 1, 1000) > 0 && read(conn, buf, sizeof(buf)) < 0)
            g_test_message("fake server: read failed");
        if (write(conn, reply, sizeof(reply) - 1) < 0)
            g_test_message("fake server: write failed");
        close(conn);
    }
    return NULL;
}

static void
fake_server_start(FakeServer *srv)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t len = sizeof(addr);

    memset(srv, 0, sizeof(*srv));
    srv->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(srv->fd, >=, 0);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(srv->fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(srv->fd, 8), ==, 0);
    g_assert_cmpint(getsockname(srv->fd, (struct sockaddr *)&addr, &len), ==, 0);
    srv->port = ntohs(addr.sin_port);
    srv->thread = g_thread_new("fake-http", fake_server_run, srv);
}

static int
fake_server_stop(FakeServer *srv)
{
    g_atomic_int_set(&srv->stop, 1);
    g_thread_join(srv->thread);
    close(srv->fd);
    return g_atomic_int_get(&srv->connections);
}

static void
test_no_network(void)
{
    FakeServer srv;
    g_autofree char *dir = NULL;
    g_autofree char *secret = NULL;
    g_autoptr(GPtrArray) docs = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;

    fake_server_start(&srv);
    dir = g_dir_make_tmp("cpxml-XXXXXX", &error);
    g_assert_no_error(error);
    secret = g_build_filename(dir, "secret", NULL);
    g_assert_true(g_file_set_contents(secret, "LEAKED", -1, &error));
    g_assert_no_error(error);

    /* An external DTD. */
    g_ptr_array_add(docs, g_strdup_printf(
        "<!DOCTYPE domaincheckpoint SYSTEM \"http://127.0.0.1:%d/d.dtd\">\n"
        "<domaincheckpoint><name>n</name></domaincheckpoint>", srv.port));
    /* An external general entity used in the name. */
    g_ptr_array_add(docs, g_strdup_printf(
        "<!DOCTYPE domaincheckpoint [\n"
        "  <!ENTITY ext SYSTEM \"http://127.0.0.1:%d/e\">\n"
        "]>\n"
        "<domaincheckpoint><name>n&ext;</name></domaincheckpoint>", srv.port));
    /* An external parameter entity in the internal subset. */
    g_ptr_array_add(docs, g_strdup_printf(
        "<!DOCTYPE domaincheckpoint [\n"
        "  <!ENTITY %% p SYSTEM \"http://127.0.0.1:%d/p.dtd\">\n"
        "  %%p;\n"
        "]>\n"
        "<domaincheckpoint><name>n</name></domaincheckpoint>", srv.port));
    /* A public DTD with a network system id. */
    g_ptr_array_add(docs, g_strdup_printf(
        "<!DOCTYPE domaincheckpoint PUBLIC \"-//X//Y//EN\" \"http://127.0.0.1:%d/pub.dtd\">\n"
        "<domaincheckpoint><name>n</name></domaincheckpoint>", srv.port));
    /* An external entity on a local file: its contents must not leak in. */
    g_ptr_array_add(docs, g_strdup_printf(
        "<!DOCTYPE domaincheckpoint [\n"
        "  <!ENTITY file SYSTEM \"file://%s\">\n"
        "]>\n"
        "<domaincheckpoint><name>n&file;</name>"
        "<parent><name>&file;</name></parent></domaincheckpoint>", secret));
    /* An XInclude is not processed either. */
    g_ptr_array_add(docs, g_strdup_printf(
        "<domaincheckpoint xmlns:xi=\"http://www.w3.org/2001/XInclude\"><name>n</name>"
        "<parent><name><xi:include href=\"http://127.0.0.1:%d/x\" parse=\"text\"/>"
        "</name></parent></domaincheckpoint>", srv.port));

    for (guint i = 0; i < docs->len; i++) {
        const char *xml = g_ptr_array_index(docs, i);
        g_autoptr(CpfsCheckpointRecord) rec = NULL;

        g_test_message("document %u:\n%s", i, xml);
        rec = parse_exact(xml);
        if (!rec)
            continue;  /* refusing the document is fine too */
        g_assert_cmpstr(rec->name, ==, "n");
        g_assert_true(rec->parent == NULL || !strstr(rec->parent, "LEAKED"));
        g_assert_true(rec->parent == NULL || !strstr(rec->parent, "FETCHED"));
    }
    g_assert_cmpint(fake_server_stop(&srv), ==, 0);

    g_assert_cmpint(g_unlink(secret), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Building the creation request */

/* The document is <domaincheckpoint> holding one <name> and nothing else. */
static void
check_create_doc(const char *xml, const char *name)
{
    g_autoptr(xmlDoc) doc = xmlReadMemory(xml, (int)strlen(xml), "create.xml", NULL,
                                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                                          XML_PARSE_NOWARNING);
    xmlNode *root;
    xmlNode *only = NULL;
    int elements = 0;
    xmlChar *content;

    g_assert_nonnull(doc);
    root = xmlDocGetRootElement(doc);
    g_assert_nonnull(root);
    g_assert_cmpstr((const char *)root->name, ==, "domaincheckpoint");
    g_assert_null(root->properties);
    for (xmlNode *c = root->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            elements++;
            only = c;
        }
    }
    g_assert_cmpint(elements, ==, 1);
    g_assert_cmpstr((const char *)only->name, ==, "name");
    content = xmlNodeGetContent(only);
    g_assert_cmpstr((const char *)content, ==, name);
    xmlFree(content);
}

static void
test_build_create(void)
{
    const char *names[] = {
        "a", "backup-2024.01.01_full", "A-_0", "xml",
        "a<b", "a&b", "a>b", "a\"b", "a'b", "<&\"'>", "]]>", "&amp;", "&lt;",
        "<name>evil</name>", "</name><parent><name>x</name></parent><name>",
        "caf\xc3\xa9",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *xml = cpfs_cpxml_build_create(names[i]);
        g_autoptr(CpfsCheckpointRecord) rec = NULL;

        g_test_message("name '%s' -> %s", names[i], xml);
        g_assert_nonnull(xml);
        rec = parse_exact(xml);
        g_assert_nonnull(rec);
        g_assert_cmpstr(rec->name, ==, names[i]);
        g_assert_null(rec->parent);
        g_assert_cmpint(rec->creation_time, ==, 0);
        check_create_doc(xml, names[i]);
        /* The special characters are escaped in the text. */
        if (strchr(names[i], '<')) {
            g_assert_null(strstr(xml, names[i]));
            g_assert_nonnull(strstr(xml, "&lt;"));
        }
        if (strchr(names[i], '&'))
            g_assert_nonnull(strstr(xml, "&amp;"));
    }
}

static void
test_build_create_plain(void)
{
    g_autofree char *xml = cpfs_cpxml_build_create("cp1");

    g_assert_nonnull(strstr(xml, "<domaincheckpoint>"));
    g_assert_nonnull(strstr(xml, "<name>cp1</name>"));
    g_assert_nonnull(strstr(xml, "</domaincheckpoint>"));
    g_assert_null(strstr(xml, "<parent"));
    g_assert_null(strstr(xml, "<disks"));
}

/* Only what precedes the embedded domain is parsed when the domain comes
 * last, as libvirt writes it; any other layout is parsed whole. */
static void
test_parse_domain_last(void)
{
    const char parent_after_domain[] =
        "<domaincheckpoint><name>cp</name>"
        "<domain type='kvm'><name>guest</name></domain>"
        "<parent><name>p</name></parent><creationTime>5</creationTime>"
        "</domaincheckpoint>";
    const char cdata_before[] =
        "<domaincheckpoint><name>cp</name><description><![CDATA[<domain x]]></description>"
        "<parent><name>p</name></parent><creationTime>6</creationTime>"
        "<domain type='kvm'><name>guest</name></domain>\n</domaincheckpoint>\n";
    const char escaped[] =
        "<domaincheckpoint><name>cp</name><description>&lt;domain &lt;domain></description>"
        "<parent><name>p</name></parent><creationTime>7</creationTime>"
        "<domain/></domaincheckpoint>";
    g_autoptr(CpfsCheckpointRecord) rec = parse_exact(parent_after_domain);
    g_autoptr(CpfsCheckpointRecord) rec2 = parse_exact(cdata_before);
    g_autoptr(CpfsCheckpointRecord) rec3 = parse_exact(escaped);

    g_assert_nonnull(rec);
    g_assert_cmpstr(rec->parent, ==, "p");
    g_assert_cmpint(rec->creation_time, ==, 5);
    g_assert_nonnull(rec2);
    g_assert_cmpstr(rec2->name, ==, "cp");
    g_assert_cmpstr(rec2->parent, ==, "p");
    g_assert_cmpint(rec2->creation_time, ==, 6);
    g_assert_nonnull(rec3);
    g_assert_cmpstr(rec3->parent, ==, "p");
    g_assert_cmpint(rec3->creation_time, ==, 7);
}

static const TestCase tests[] = {
    { "/cpxml/parse/root", test_parse_root },
    { "/cpxml/parse/parent", test_parse_parent },
    { "/cpxml/parse/domain", test_parse_domain },
    { "/cpxml/parse/domain-name-first", test_parse_domain_name_first },
    { "/cpxml/parse/domain-last", test_parse_domain_last },
    { "/cpxml/parse/len", test_parse_len },
    { "/cpxml/parse/creation-time", test_creation_time },
    { "/cpxml/parse/creation-time-range", test_creation_time_range },
    { "/cpxml/parse/rejects", test_parse_rejects },
    { "/cpxml/parse/details", test_parse_details },
    { "/cpxml/parse/no-network", test_no_network },
    { "/cpxml/build/round-trip", test_build_create },
    { "/cpxml/build/plain", test_build_create_plain },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
