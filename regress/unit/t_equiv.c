/*
 * The evaluation plan (conditions reordered within a filter, the literal
 * prefilter, the official-domain check last) changes no verdict: every
 * message of the corpora in $CORPUS and of regress/{rules,decode,import}/
 * msgs goes through the shipped rules, then through them with a large
 * generated set, once by the plan and once plainly (rs_plain, which only
 * tests set), each time in a session of its own, as -t reads it.  The
 * deciding filter, the warn filters in order and the verdict must be the
 * same.  Only the count of matches cut by limits may differ, as the plan
 * runs fewer regexes.
 */

#include "phishmilter.h"
#include "session.h"

#include <sys/stat.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "tap.h"

#define GEN_FILTERS	1500

/* What one way of evaluating said of a message. */
struct outcome {
	const struct filter	*o_decider;
	const struct filter	**o_warn;	/* a copy of rr_warn */
	size_t			 o_nwarn;
	enum action		 o_action;
	const struct filter	*o_filter;
	int			 o_would;
};

static char	**files;
static size_t	  nfiles, filesize;

static int
collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char	*base = path + ftw->base;
	size_t		 n = strlen(base);

	(void)st;
	if (type != FTW_F || strcmp(base, "SOURCE.txt") == 0 ||
	    strcmp(base, "LICENSE") == 0 || strcmp(base, "COPYING") == 0 ||
	    strncmp(base, "README", 6) == 0 || (n > 5 &&
	    strcmp(base + n - 5, ".json") == 0) || (n > 4 &&
	    (strcmp(base + n - 4, ".tsv") == 0 ||
	    strcmp(base + n - 3, ".py") == 0)))
		return 0;
	if (nfiles == filesize) {
		filesize = filesize ? filesize * 2 : 1024;
		files = xreallocarray(files, filesize, sizeof(*files));
	}
	files[nfiles++] = xstrdup(path);
	return 0;
}

static int
path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The message files under dir, sorted; how many were added. */
static size_t
add_dir(const char *dir)
{
	size_t	first = nfiles;

	if (nftw(dir, collect, 16, FTW_PHYS) == -1)
		return 0;
	qsort(files + first, nfiles - first, sizeof(*files), path_cmp);
	return nfiles - first;
}

static void
evaluate(struct config *cf, struct ruleset *rs, const char *path,
    int plain, struct outcome *o)
{
	struct session		*s;
	struct target_source	 src;
	struct rules_result	 rr;
	struct decision		 d;
	size_t			 i;

	memset(o, 0, sizeof(*o));
	o->o_warn = xcalloc(cf->cf_nfilters + 1, sizeof(*o->o_warn));
	if ((s = offline_session(cf, rs, path)) == NULL)
		return;
	rs->rs_plain = plain;
	src.ts_each = session_each_value;
	src.ts_ctx = s;
	rules_evaluate(rs, &src, &rr);
	o->o_decider = rr.rr_decider;
	for (i = 0; i < rr.rr_nwarn; i++)
		o->o_warn[i] = rr.rr_warn[i];
	o->o_nwarn = rr.rr_nwarn;
	verdict_decide(s, &d);
	o->o_action = d.d_action;
	o->o_filter = d.d_filter;
	o->o_would = d.d_would;
	rs->rs_plain = 0;
	session_free(s);
}

static int
outcome_eq(const struct outcome *a, const struct outcome *b)
{
	return a->o_decider == b->o_decider && a->o_nwarn == b->o_nwarn &&
	    memcmp(a->o_warn, b->o_warn, a->o_nwarn *
	    sizeof(*a->o_warn)) == 0 &&
	    a->o_action == b->o_action && a->o_filter == b->o_filter &&
	    a->o_would == b->o_would;
}

/* Every file from first to last through both ways, one assertion. */
static void
compare(struct config *cf, struct ruleset *rs, const char *what,
    size_t first, size_t last)
{
	struct outcome	a, b;
	size_t		i, bad = 0, decided = 0, warns = 0;

	for (i = first; i < last; i++) {
		evaluate(cf, rs, files[i], 0, &a);
		evaluate(cf, rs, files[i], 1, &b);
		decided += a.o_decider != NULL;
		warns += a.o_nwarn;
		if (!outcome_eq(&a, &b) && bad++ < 5)
			printf("# %s: plan %s/%zu warn, plain %s/%zu warn\n",
			    files[i], a.o_decider ? a.o_decider->f_name : "-",
			    a.o_nwarn, b.o_decider ? b.o_decider->f_name :
			    "-", b.o_nwarn);
		free(a.o_warn);
		free(b.o_warn);
	}
	ok(bad == 0, "%s: %zu messages (%zu decided, %zu warn filters held), "
	    "the same with and without the plan (%zu differ)", what,
	    last - first, decided, warns, bad);
}

static unsigned long	rnd_state = 20250601;

static unsigned int
rnd(unsigned int n)
{
	rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned int)(rnd_state >> 33) % n;
}

#define PICK(a)	((a)[rnd(sizeof(a) / sizeof((a)[0]))])

/*
 * A condition in the style of real rules, on words that are frequent in
 * the corpora, so that many hold: alternations, optional parts, (?i),
 * classes, quoting, anchors, negation.
 */
static void
gen_cond(char *buf, size_t size)
{
	static const char *const targets[] = {
		"decode_from", "decode_subject", "decode_text", "decode_html",
		"url", "url_host", "header_from", "header_subject",
		"header_received", "header_content-type", "envelope_from",
		"envelope_rcpt", "decode_to", "decode_reply_to",
		"attachment_name", "attachment_type", "helo", "remote_ip",
	};
	static const char *const words[] = {
		"account", "verify", "paypal", "amazon", "apple", "bank",
		"click", "here", "password", "update", "http", "www", "com",
		"login", "secure", "invoice", "payment", "dear", "customer",
		"suspend", "アカウント", "確認", "お客様", "microsoft", "office",
		"delivery", "netflix", "gmail", "support", "conta", "sua",
		"you", "your", "html", "pdf", "text/plain", "from", "by",
		"localhost", "utf-8", "Bradesco", "Caixa", "e", "o", "a",
	};
	/* Each @ is a word. */
	static const char *const shapes[] = {
		"(?i)\\b(?:@|@|@)\\b", "(?i)@\\s+@", "@.{0,20}@", "(?i)@s?",
		"@(?:@)?@", "^(?i)@", "(?i)@$", "[a-z]+@", "\\Q@\\E",
		"(?i)(?:@|@)[^a-z]@", "@|@|@", "(?i)@@@", "(?i)@\\W*@",
		"(?:@){1,2}", ".",
	};
	const char	*shape = PICK(shapes), *w;
	char		 re[256];
	size_t		 o = 0;

	for (; *shape != '\0' && o + 64 < sizeof(re); shape++) {
		if (*shape != '@') {
			re[o++] = *shape;
			continue;
		}
		for (w = PICK(words); *w != '\0'; w++)
			re[o++] = *w;
	}
	re[o] = '\0';
	snprintf(buf, size, "'%s:%s%s'", PICK(targets), rnd(6) == 0 ? "!" :
	    "", re);
}

static void
gen_filter(FILE *fp, size_t i)
{
	static const char *const actions[] = {
		"warn", "warn", "warn", "warn", "warn", "warn", "warn",
		"reject", "quarantine", "accept",
	};
	char	c[300];
	size_t	j, n;

	fprintf(fp, "filter gen%zu {\n", i);
	for (n = rnd(3), j = 0; j < n + 1; j++) {
		gen_cond(c, sizeof(c));
		fprintf(fp, "%s%s", j ? ", " : "\tmatch = { ", c);
	}
	fprintf(fp, " }\n");
	if (rnd(3) == 0) {
		for (n = rnd(3), j = 0; j < n + 1; j++) {
			gen_cond(c, sizeof(c));
			fprintf(fp, "%s%s", j ? ", " : "\tany = { ", c);
		}
		fprintf(fp, " }\n");
	}
	/* Decisive filters late, so that most messages meet them all. */
	fprintf(fp, "\taction = %s\n", i < GEN_FILTERS * 9 / 10 ?
	    "warn" : PICK(actions));
	if (rnd(5) == 0)
		fprintf(fp, "\twhitespace = strip\n");
	fprintf(fp, "}\n");
	if (rnd(10) == 0)
		fprintf(fp, "official gen%zu {\n\tdomains = { \"%s\" }\n}\n",
		    i, rnd(2) ? "gmail.com" : "outlook.com");
}

/* The shipped rules with the generated ones among them, in dir. */
static int
gen_config(const char *dir, const char *top, char *path, size_t size)
{
	FILE	*fp;
	size_t	 i;

	snprintf(path, size, "%s/gen.conf", dir);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fprintf(fp, "listen = \"inet:127.0.0.1:1\"\n"
	    "include(\"%s/conf/rules.d/[0-4]*.conf\")\n", top);
	for (i = 0; i < GEN_FILTERS / 2; i++)
		gen_filter(fp, i);
	fprintf(fp, "include(\"%s/conf/rules.d/[5-9]*.conf\")\n", top);
	for (; i < GEN_FILTERS; i++)
		gen_filter(fp, i);
	return fclose(fp);
}

static void
run_config(const char *file, const char *what, const size_t *set,
    const char *const *setname, size_t nset)
{
	struct config	*cf;
	struct ruleset	 rs;
	char		 label[128];
	size_t		 i, first = 0;

	if ((cf = config_load(file)) == NULL || rules_compile(&rs, cf) == -1) {
		ok(0, "%s: %s loads", what, file);
		return;
	}
	ok(1, "%s: %zu filters", what, cf->cf_nfilters);
	for (i = 0; i < nset; i++) {
		snprintf(label, sizeof(label), "%s, %s", what, setname[i]);
		if (set[i] > 0)
			compare(cf, &rs, label, first, first + set[i]);
		first += set[i];
	}
	rules_free(&rs);
	config_free(cf);
}

int
main(void)
{
	static const char *const corpora[] = {
		"phishing_pot", "sisimai", "mail-parser", "python-email",
		"spamassassin",
	};
	static const char *const local[] = {
		"rules/msgs", "decode/msgs", "import/msgs",
	};
	const char	*top = getenv("top_srcdir");
	const char	*regress = getenv("regress");
	const char	*corpus = getenv("CORPUS");
	const char	*setname[8];
	size_t		 set[8], nset = 0, i;
	char		 path[PATH_MAX], conf[PATH_MAX], dir[1024];

	log_init(1, LOG_ERR, NULL);
	mime_init();
	(void)charset_init();
	if (top == NULL || regress == NULL) {
		printf("1..0 # SKIP top_srcdir and regress not set\n");
		return 0;
	}
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", regress, local[i]);
		setname[nset] = local[i];
		set[nset++] = add_dir(path);
	}
	for (i = 0; corpus != NULL && i < sizeof(corpora) /
	    sizeof(corpora[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", corpus, corpora[i]);
		setname[nset] = corpora[i];
		if ((set[nset++] = add_dir(path)) == 0)
			printf("# no corpus at %s\n", path);
	}
	snprintf(conf, sizeof(conf), "%s/conf/phishmilter.conf", top);
	run_config(conf, "shipped rules", set, setname, nset);
	snprintf(dir, sizeof(dir), "%s/t_equiv.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL || gen_config(dir, top, conf,
	    sizeof(conf)) == -1) {
		ok(0, "generated configuration written");
		return tap_done();
	}
	run_config(conf, "shipped and generated rules", set, setname, nset);
	unlink(conf);
	rmdir(dir);
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	charset_cleanup();
	return tap_done();
}
