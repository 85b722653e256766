/* byte classes for the strict http/1 grammar (rfc 9110 / 9112 / 3986) */
#ifndef L7_CTYPE_H
#define L7_CTYPE_H

#define CT_TCHAR 0x01	/* token char (method, header name) */
#define CT_TARGET 0x02	/* allowed in an origin-form request-target */
#define CT_UNRES 0x04	/* rfc 3986 unreserved */
#define CT_HEX 0x08
#define CT_DIGIT 0x10

#define CT_ALNUM (CT_TCHAR | CT_TARGET | CT_UNRES)

const __u8 l7_ctype[256] = {
	['0' ... '9'] = CT_ALNUM | CT_HEX | CT_DIGIT,
	['a' ... 'f'] = CT_ALNUM | CT_HEX,
	['g' ... 'z'] = CT_ALNUM,
	['A' ... 'F'] = CT_ALNUM | CT_HEX,
	['G' ... 'Z'] = CT_ALNUM,
	['-'] = CT_ALNUM, ['.'] = CT_ALNUM, ['_'] = CT_ALNUM, ['~'] = CT_ALNUM,
	/* sub-delims that are also token chars */
	['!'] = CT_TCHAR | CT_TARGET, ['$'] = CT_TCHAR | CT_TARGET,
	['&'] = CT_TCHAR | CT_TARGET, ['\''] = CT_TCHAR | CT_TARGET,
	['*'] = CT_TCHAR | CT_TARGET, ['+'] = CT_TCHAR | CT_TARGET,
	['%'] = CT_TCHAR | CT_TARGET,
	/* token chars not allowed raw in a target */
	['#'] = CT_TCHAR, ['^'] = CT_TCHAR, ['`'] = CT_TCHAR, ['|'] = CT_TCHAR,
	/* target-only */
	['('] = CT_TARGET, [')'] = CT_TARGET, [','] = CT_TARGET, [';'] = CT_TARGET,
	['='] = CT_TARGET, [':'] = CT_TARGET, ['@'] = CT_TARGET, ['/'] = CT_TARGET,
	['?'] = CT_TARGET,
};

static __always_inline __u8 l7_hexval(__u8 c)
{
	if (c <= '9')
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

#endif
