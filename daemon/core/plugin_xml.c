/* XML for plugins (host->xml_*): AWS query API responses (EC2, Auto Scaling,
 * ELB, CloudWatch) parsed with libxml2, walked by local element names. See
 * plugin.h. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/plugin_host.h"
#include "log.h"

#define XML_DOC_MAGIC 0x584d4c44u /* "XMLD" */

struct rollout_xml {
	unsigned magic;
	xmlDocPtr doc;
	xmlChar **texts; /* handed out by xml_text, freed with the document */
	size_t n_texts;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* libxml2 sets up global tables on first use; doing it once before any
 * concurrent parse keeps that first use off the worker threads' race. */
static void init_parser(void)
{
	xmlInitParser();
}

static struct rollout_xml *doc_of(const xmlNode *n)
{
	struct rollout_xml *x = n && n->doc ? n->doc->_private : NULL;

	return x && x->magic == XML_DOC_MAGIC ? x : NULL;
}

static bool doc_ok(const struct rollout_xml *x, const char *fn)
{
	if (x && x->magic == XML_DOC_MAGIC)
		return true;
	rd_logt(LOG_ERR, "plugin-host",
		"%s() called with an invalid XML document %p (plugin bug: freed or foreign pointer)", fn,
		(const void *)x);
	return false;
}

/* Nodes are libxml2's own: an element whose document carries our wrapper. */
static const xmlNode *node_ok(const struct rollout_xml_node *node, const char *fn)
{
	const xmlNode *n = (const xmlNode *)node;

	if (!n)
		return NULL;
	if (n->type == XML_ELEMENT_NODE && doc_of(n))
		return n;
	rd_logt(LOG_ERR, "plugin-host",
		"%s() called with an invalid XML node %p (plugin bug: freed or foreign pointer)", fn,
		(const void *)node);
	return NULL;
}

int host_xml_parse(struct rollout_handle *h, const char *text, size_t len, struct rollout_xml **ret, char *err,
		   size_t errlen)
{
	xmlParserCtxtPtr ctxt;
	struct rollout_xml *x;
	xmlDocPtr doc;

	if (!host_handle_ok(h, "xml_parse"))
		return -EINVAL;
	if (!text || len > INT_MAX) {
		snprintf(err, errlen, "XML: %s", text ? "document larger than 2 GiB" : "no document");
		return -EINVAL;
	}
	pthread_once(&init_once, init_parser);
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return -ENOMEM;
	/* No network, no entity substitution, no DTD loading: a response is
	 * data, never a reason to fetch or expand anything. Errors are
	 * reported here, not printed by libxml2. */
	doc = xmlCtxtReadMemory(ctxt, text, (int)len, NULL, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		snprintf(err, errlen, "XML: not well-formed at line %d: %s", e ? e->line : 0,
			 e && e->message ? e->message : "parse error");
		/* libxml2's messages end with a newline */
		if (strlen(err) && err[strlen(err) - 1] == '\n')
			err[strlen(err) - 1] = '\0';
		xmlFreeParserCtxt(ctxt);
		return -EINVAL;
	}
	xmlFreeParserCtxt(ctxt);
	/* A DOCTYPE could declare entities whose expansion explodes; AWS
	 * responses never carry one. */
	if (doc->intSubset || !xmlDocGetRootElement(doc)) {
		snprintf(err, errlen, "XML: %s",
			 doc->intSubset ? "documents with a DOCTYPE are refused" : "no element");
		xmlFreeDoc(doc);
		return -EINVAL;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		xmlFreeDoc(doc);
		return -ENOMEM;
	}
	x->magic = XML_DOC_MAGIC;
	x->doc = doc;
	doc->_private = x;
	*ret = x;
	return 0;
}

struct rollout_xml *host_xml_free(struct rollout_xml *x)
{
	if (!x || !doc_ok(x, "xml_free"))
		return NULL;
	for (size_t i = 0; i < x->n_texts; i++)
		xmlFree(x->texts[i]);
	free(x->texts);
	x->doc->_private = NULL;
	xmlFreeDoc(x->doc);
	x->magic = 0;
	free(x);
	return NULL;
}

const struct rollout_xml_node *host_xml_root(const struct rollout_xml *x)
{
	return doc_ok(x, "xml_root") ? (const struct rollout_xml_node *)xmlDocGetRootElement(x->doc) : NULL;
}

static bool named(const xmlNode *n, const char *name, size_t len)
{
	return n->type == XML_ELEMENT_NODE &&
	       (!name || (strlen((const char *)n->name) == len && strncmp((const char *)n->name, name, len) == 0));
}

static const xmlNode *child(const xmlNode *parent, const char *name, size_t len)
{
	for (const xmlNode *c = parent->children; c; c = c->next)
		if (named(c, name, len))
			return c;
	return NULL;
}

static const xmlNode *find(const xmlNode *n, const char *path)
{
	while (n && path && *path) {
		size_t len = strcspn(path, "/");
		if (len)
			n = child(n, path, len);
		path += len;
		if (*path == '/')
			path++;
	}
	return n;
}

const struct rollout_xml_node *host_xml_find(const struct rollout_xml_node *node, const char *path)
{
	return (const struct rollout_xml_node *)find(node_ok(node, "xml_find"), path);
}

static const char *text_of(const xmlNode *n)
{
	struct rollout_xml *x = doc_of(n);
	xmlChar **nv, *t;

	if (!n || !x)
		return NULL;
	t = xmlNodeGetContent(n);
	if (!t)
		return NULL;
	nv = realloc(x->texts, (x->n_texts + 1) * sizeof(*nv));
	if (!nv) {
		xmlFree(t);
		return NULL;
	}
	x->texts = nv;
	x->texts[x->n_texts++] = t;
	return (const char *)t;
}

const char *host_xml_text(const struct rollout_xml_node *node, const char *path)
{
	return text_of(find(node_ok(node, "xml_text"), path));
}

const struct rollout_xml_node *host_xml_first(const struct rollout_xml_node *parent, const char *name)
{
	const xmlNode *p = node_ok(parent, "xml_first");

	return p ? (const struct rollout_xml_node *)child(p, name, name ? strlen(name) : 0) : NULL;
}

const struct rollout_xml_node *host_xml_next(const struct rollout_xml_node *node, const char *name)
{
	const xmlNode *n = node_ok(node, "xml_next");
	size_t len = name ? strlen(name) : 0;

	for (n = n ? n->next : NULL; n; n = n->next)
		if (named(n, name, len))
			return (const struct rollout_xml_node *)n;
	return NULL;
}

const char *host_xml_name(const struct rollout_xml_node *node)
{
	const xmlNode *n = node_ok(node, "xml_name");

	return n ? (const char *)n->name : NULL;
}

int host_xml_aws_error(const struct rollout_xml *x, const char **ret_code, const char **ret_message)
{
	const xmlNode *root, *e;
	const char *code, *msg;

	if (!doc_ok(x, "xml_aws_error"))
		return -EINVAL;
	root = xmlDocGetRootElement(x->doc);
	if (named(root, "ErrorResponse", 13)) /* query APIs: ELB, Auto Scaling, CloudWatch, IAM */
		e = find(root, "Error");
	else if (named(root, "Response", 8)) /* EC2 */
		e = find(root, "Errors/Error");
	else if (named(root, "Error", 5)) /* S3 */
		e = root;
	else
		return 0;
	if (!e)
		return 0;
	code = text_of(find(e, "Code"));
	msg = text_of(find(e, "Message"));
	if (ret_code)
		*ret_code = code ? code : "";
	if (ret_message)
		*ret_message = msg ? msg : "";
	return 1;
}
