/* regex.c — being written; see the module header (not yet in the tree). */
int lf_regex_placeholder_;
