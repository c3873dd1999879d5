/* Unit tests of the checkpoint name rules (model/names.c). */
#include "unit-common.h"
#include "model/names.h"

#include <errno.h>
#include <string.h>

/* The rule [A-Za-z0-9_-][A-Za-z0-9_.-]* for one byte, written out plainly so
 * it does not share code with the implementation. */
static gboolean
ref_byte_ok(guint b, gboolean first)
{
    if (b >= 'a' && b <= 'z')
        return TRUE;
    if (b >= 'A' && b <= 'Z')
        return TRUE;
    if (b >= '0' && b <= '9')
        return TRUE;
    if (b == '_' || b == '-')
        return TRUE;
    return !first && b == '.';
}

static void
test_valid(void)
{
    const char *names[] = {
        "a", "A", "0", "_", "-", "A-_0", "a.b", "a..b", "a.", "-.", "_x_",
        "backup-2024.01.01_full", "ZZZ999", "0.1.2",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_test_message("valid: '%s'", names[i]);
        g_assert_cmpint(cpfs_name_check(names[i]), ==, 0);
        g_assert_true(cpfs_name_is_valid(names[i]));
    }
}

static void
test_invalid(void)
{
    const char *names[] = {
        "", ".", "..", ".a", ".hidden", "a b", " a", "a ", "a/b", "/", "a/",
        "a:b", "a@b", "a*", "*", "a?", "a\\b", "a\"b", "a'b", "a<b", "a>b",
        "a&b", "a|b", "a;b", "a,b", "a+b", "a=b", "a~b", "a#b", "a%b", "a!b",
        "a$b", "a(b)", "a[b]", "a{b}", "a^b", "a`b",
        "caf\xc3\xa9",          /* é in UTF-8 */
        "\xc3\xa9t\xc3\xa9",
        "\xe2\x82\xac",          /* € */
        "\xf0\x9f\x98\x80",      /* an emoji */
        "a\xff", "\x80",
        "a\tb", "a\nb", "a\rb", "\x01", "a\x1f", "a\x7f",
    };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *shown = g_strescape(names[i], NULL);

        g_test_message("invalid: '%s'", shown);
        g_assert_cmpint(cpfs_name_check(names[i]), ==, -EINVAL);
        g_assert_false(cpfs_name_is_valid(names[i]));
    }
    g_assert_false(cpfs_name_is_valid(NULL));
}

/* Every byte value in the first position and in a later one. */
static void
test_every_byte(void)
{
    for (guint b = 1; b <= 0xff; b++) {
        char first[3] = { (char)b, 'a', '\0' };
        char later[4] = { 'a', (char)b, 'b', '\0' };
        char last[3] = { 'a', (char)b, '\0' };
        char alone[2] = { (char)b, '\0' };
        int want_first = ref_byte_ok(b, TRUE) ? 0 : -EINVAL;
        int want_later = ref_byte_ok(b, FALSE) ? 0 : -EINVAL;

        g_test_message("byte 0x%02x", b);
        g_assert_cmpint(cpfs_name_check(first), ==, want_first);
        g_assert_cmpint(cpfs_name_is_valid(first), ==, want_first == 0);
        g_assert_cmpint(cpfs_name_check(alone), ==, want_first);
        g_assert_cmpint(cpfs_name_check(later), ==, want_later);
        g_assert_cmpint(cpfs_name_is_valid(later), ==, want_later == 0);
        g_assert_cmpint(cpfs_name_check(last), ==, want_later);
    }
    /* Sanity of the reference rule itself: 26+26+10+2 first bytes, one more
     * ('.') later. */
    {
        guint n_first = 0, n_later = 0;

        for (guint b = 1; b <= 0xff; b++) {
            n_first += ref_byte_ok(b, TRUE);
            n_later += ref_byte_ok(b, FALSE);
        }
        g_assert_cmpuint(n_first, ==, 64);
        g_assert_cmpuint(n_later, ==, 65);
    }
}

static void
test_xml(void)
{
    g_assert_cmpint(cpfs_name_check("xml"), ==, -EEXIST);
    g_assert_cmpstr(CPFS_XML_NAME, ==, "xml");
    /* Only the exact name is reserved. */
    g_assert_cmpint(cpfs_name_check("XML"), ==, 0);
    g_assert_cmpint(cpfs_name_check("xml1"), ==, 0);
    g_assert_cmpint(cpfs_name_check("xm"), ==, 0);
    g_assert_cmpint(cpfs_name_check("a.xml"), ==, 0);
    g_assert_cmpint(cpfs_name_check("xml.bak"), ==, 0);
    /* "xml" is a valid libvirt name: only the filesystem reserves it. */
    g_assert_true(cpfs_name_is_valid("xml"));
}

static void
test_length(void)
{
    g_autofree char *max = g_strnfill(247, 'a');
    g_autofree char *over = g_strnfill(248, 'a');
    g_autofree char *far_over = g_strnfill(4096, 'z');
    g_autofree char *bad_over = g_strnfill(248, '.');
    g_autofree char *bad_max = g_strnfill(247, '.');
    g_autofree char *space_over = g_strnfill(300, ' ');
    g_autofree char *dots = NULL;

    g_assert_cmpint(CPFS_NAME_MAX, ==, 247);
    g_assert_cmpuint(strlen(max), ==, CPFS_NAME_MAX);
    g_assert_cmpint(cpfs_name_check(max), ==, 0);
    g_assert_cmpint(cpfs_name_check(over), ==, -ENAMETOOLONG);
    g_assert_cmpint(cpfs_name_check(far_over), ==, -ENAMETOOLONG);
    /* Length is checked before the characters. */
    g_assert_cmpint(cpfs_name_check(bad_max), ==, -EINVAL);
    g_assert_cmpint(cpfs_name_check(bad_over), ==, -ENAMETOOLONG);
    g_assert_cmpint(cpfs_name_check(space_over), ==, -ENAMETOOLONG);
    /* is_valid does not look at length. */
    g_assert_true(cpfs_name_is_valid(over));

    /* Bytes, not characters: 124 two-byte characters are 248 bytes. */
    {
        GString *s = g_string_new(NULL);

        for (int i = 0; i < 124; i++)
            g_string_append(s, "\xc3\xa9");
        dots = g_string_free(s, FALSE);
    }
    g_assert_cmpuint(strlen(dots), ==, 248);
    g_assert_cmpint(cpfs_name_check(dots), ==, -ENAMETOOLONG);
    dots[246] = '\0';  /* 123 characters, 246 bytes: now merely invalid */
    g_assert_cmpint(cpfs_name_check(dots), ==, -EINVAL);

    /* A valid name of 247 bytes with mixed characters. */
    {
        g_autofree char *mixed = g_strnfill(247, '-');

        mixed[0] = 'A';
        mixed[100] = '.';
        mixed[246] = '9';
        g_assert_cmpint(cpfs_name_check(mixed), ==, 0);
    }
}

/* Which domain names can be directories: what libvirt's test driver
 * accepts includes "." and "..", and names longer than statfs promises. */
static void
test_domain_listable(void)
{
    g_autofree char *max = g_strnfill(CPFS_NAME_MAX, 'd');
    g_autofree char *over = g_strnfill(CPFS_NAME_MAX + 1, 'd');

    g_assert_true(cpfs_domain_name_is_listable("test"));
    g_assert_true(cpfs_domain_name_is_listable("...")); /* odd but a fine name */
    g_assert_true(cpfs_domain_name_is_listable(".a"));
    g_assert_true(cpfs_domain_name_is_listable("xml")); /* only checkpoints collide with xml */
    g_assert_true(cpfs_domain_name_is_listable(max));
    g_assert_false(cpfs_domain_name_is_listable(over));
    g_assert_false(cpfs_domain_name_is_listable("."));
    g_assert_false(cpfs_domain_name_is_listable(".."));
    g_assert_false(cpfs_domain_name_is_listable(""));
    g_assert_false(cpfs_domain_name_is_listable("a/b"));
}

static void
test_refusal(void)
{
    g_assert_nonnull(strstr(cpfs_name_refusal(-ENAMETOOLONG), "247"));
    g_assert_nonnull(strstr(cpfs_name_refusal(-EEXIST), "xml"));
    g_assert_nonnull(strstr(cpfs_name_refusal(-EINVAL), "[A-Za-z0-9_-]"));
}

static const TestCase tests[] = {
    { "/names/domain-listable", test_domain_listable },
    { "/names/refusal", test_refusal },
    { "/names/valid", test_valid },
    { "/names/invalid", test_invalid },
    { "/names/every-byte", test_every_byte },
    { "/names/xml", test_xml },
    { "/names/length", test_length },
};

int
main(int argc, char **argv)
{
    return run_tests(argc, argv, tests, G_N_ELEMENTS(tests));
}
