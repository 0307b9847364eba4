/*
 * Privilege separation: how a child of the root parent becomes the
 * unprivileged user, the relayd proc_run way (chroot, chdir "/",
 * setgroups, setresgid, setresuid, then pledge where the OS has it),
 * and a check that the drop really happened before any mail is read.
 */

#include "phishmilter.h"

#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

static void
privsep_verify(uid_t uid, gid_t gid, const char *proc)
{
	uid_t	ruid, euid, suid;
	gid_t	rgid, egid, sgid, groups[2];
	int	n;

	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal("%s: getresuid", proc);
	if (ruid != uid || euid != uid || suid != uid ||
	    rgid != gid || egid != gid || sgid != gid)
		fatalx("%s: privileges were not dropped", proc);
	if ((n = getgroups(2, groups)) == -1)
		fatal("%s: getgroups", proc);
	if (n > 1 || (n == 1 && groups[0] != gid))
		fatalx("%s: supplementary groups remain", proc);
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		fatalx("%s: could regain root", proc);
}

/*
 * Started as root: become cf_uid/cf_gid, refusing uid 0, in the chroot
 * if use_chroot (workers; the reporter needs the CA files and DNS).  Started as
 * another user (a developer's test run): that user must be the
 * configured one, and there is nothing to drop.
 */
void
privsep_drop(const struct config *cf, const char *proc, int use_chroot)
{
	uid_t	uid = cf->cf_uid;
	gid_t	gid = cf->cf_gid;

	if (uid == 0)
		fatalx("%s: refusing to run as root (user \"%s\")", proc,
		    cf->cf_user);
	if (geteuid() != 0) {
		if (geteuid() != uid)
			fatalx("%s: started as uid %ld, cannot become \"%s\"",
			    proc, (long)geteuid(), cf->cf_user);
		return;
	}
	if (use_chroot && cf->cf_chroot != NULL && *cf->cf_chroot != '\0') {
		if (chroot(cf->cf_chroot) == -1)
			fatal("%s: chroot %s", proc, cf->cf_chroot);
		if (chdir("/") == -1)
			fatal("%s: chdir /", proc);
	}
	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("%s: cannot drop privileges to %s", proc, cf->cf_user);
	privsep_verify(uid, gid, proc);
#ifdef HAVE_PLEDGE
	if (pledge("stdio inet unix", NULL) == -1)
		fatal("%s: pledge", proc);
#endif
}

/* Resolves the configured user; -1 with a message when it is missing. */
int
privsep_lookup(struct config *cf)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(cf->cf_user)) == NULL) {
		if (errno != 0)
			log_warn("user \"%s\"", cf->cf_user);
		else
			log_warnx("user \"%s\" does not exist (create it, or "
			    "set \"user\" in %s)", cf->cf_user, cf->cf_file);
		return -1;
	}
	cf->cf_uid = pw->pw_uid;
	cf->cf_gid = pw->pw_gid;
	if (cf->cf_uid == 0) {
		log_warnx("user \"%s\" is root: workers must not run as root",
		    cf->cf_user);
		return -1;
	}
	return 0;
}

/*
 * The reporter's spool: created by root, owned by the user, mode 0700,
 * since reports name the clients of this site.  An existing one is
 * taken over the same way.
 */
int
privsep_spool(const struct config *cf)
{
	const char	*dir = cf->cf_spamhaus.sh_spool;
	struct stat	 st;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("spool %s", dir);
		return -1;
	}
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("spool %s: not a directory", dir);
		return -1;
	}
	if (geteuid() == 0 && (st.st_uid != cf->cf_uid ||
	    st.st_gid != cf->cf_gid) &&
	    chown(dir, cf->cf_uid, cf->cf_gid) == -1) {
		log_warn("spool %s: chown", dir);
		return -1;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) == -1) {
		log_warn("spool %s: chmod", dir);
		return -1;
	}
	return 0;
}
