/* SPDX-License-Identifier: MIT */
#include "client_fs.h"

#include <grp.h>
#include <pwd.h>
#include <sys/fsuid.h>

void client_fs_adopt_groups(const struct client_fs *c)
{
	struct passwd *pw;
	gid_t groups[256];
	int ngroups = 256;

	if (c->uid == 0)
		return;
	pw = getpwuid(c->uid);
	if (pw && getgrouplist(pw->pw_name, c->gid, groups, &ngroups) >= 0)
		setgroups((size_t)ngroups, groups);
	else
		setgroups(1, &c->gid);
}

void client_fs_enter(void *ctx)
{
	const struct client_fs *c = ctx;

	setfsgid(c->gid);
	setfsuid(c->uid);
}

void client_fs_leave(void *ctx)
{
	(void)ctx;
	setfsuid(0);
	setfsgid(0);
}
