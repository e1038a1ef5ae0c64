/* template.c — being written; see the module header (not yet in the tree). */
int lf_template_placeholder_;
