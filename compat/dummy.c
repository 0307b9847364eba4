/* Keeps libcompat.a non-empty where no replacement is needed. */
int	compat_dummy;
