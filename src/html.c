/*
 * HTML as a reader sees it.  html_unescape() resolves the character
 * references of an HTML source the way an HTML5 browser does (the
 * decode_html target); html_to_text() renders the text of a document
 * (decode_text for a message without a plain part, and the text in which
 * url.c looks for bare links).  Both read hostile input in one forward
 * pass without backtracking; a tag or comment cut off by the end of input
 * is dropped, as browsers drop it; no output is longer than its input.
 *
 * Rendering drops what a reader never sees: comments, <!...> (DOCTYPE,
 * and <![CDATA[...]]>, a bogus comment in HTML), <?...>, the content of
 * script, style, title, iframe, noembed, noframes and template, and the
 * content of elements hidden by their inline style (display:none,
 * opacity:0, visibility:hidden, font-size:0 or below one pixel, the
 * hidden attribute), since phishing pads its keywords with invisible junk
 * ("三<span style=display:none>x</span>井住友").  Block elements become a
 * line break, table cells a space; whitespace is left to the caller.
 *
 * Style sheets are not evaluated: a <style> rule with !important can show
 * an element that its inline style hides, and such text is then missing
 * from the rendering (decode_html still holds it).  Where the markup is
 * too odd to follow (an end tag that closes nothing we know of, nesting
 * deeper than HIDE_DEPTH) hiding stops rather than hide too much.
 */

#include "phishmilter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define REPLACEMENT	0xFFFD
#define ENTITY_MAXLEN	22	/* DiacriticalDoubleAcute */
#define LEGACY_MAXLEN	6	/* the longest name valid without ';' */

/*
 * The named references: all of HTML 4 and the HTML5 names mail uses
 * (ASCII punctuation that hides a URL, like &colon; &sol;, spaces,
 * quotes, arrows, Latin Extended-A, symbols).  Sorted by strcmp() for
 * bsearch.  e_legacy marks the names a browser also accepts without the
 * final ';' (&amp &nbsp &eacute ...).
 */
struct entity {
	const char	*e_name;
	uint32_t	 e_cp;
	int		 e_legacy;
};

static const struct entity entities[] = {
	{ "AElig", 0x00C6, 1 }, { "AMP", 0x0026, 1 }, { "Aacute", 0x00C1, 1 },
	{ "Abreve", 0x0102, 0 }, { "Acirc", 0x00C2, 1 },
	{ "Agrave", 0x00C0, 1 }, { "Alpha", 0x0391, 0 },
	{ "Amacr", 0x0100, 0 }, { "Aogon", 0x0104, 0 },
	{ "ApplyFunction", 0x2061, 0 }, { "Aring", 0x00C5, 1 },
	{ "Atilde", 0x00C3, 1 }, { "Auml", 0x00C4, 1 }, { "Beta", 0x0392, 0 },
	{ "Breve", 0x02D8, 0 }, { "COPY", 0x00A9, 1 }, { "Cacute", 0x0106, 0 },
	{ "Ccaron", 0x010C, 0 }, { "Ccedil", 0x00C7, 1 },
	{ "Ccirc", 0x0108, 0 }, { "Cdot", 0x010A, 0 },
	{ "Cedilla", 0x00B8, 0 }, { "CenterDot", 0x00B7, 0 },
	{ "Chi", 0x03A7, 0 }, { "CloseCurlyDoubleQuote", 0x201D, 0 },
	{ "CloseCurlyQuote", 0x2019, 0 }, { "Dagger", 0x2021, 0 },
	{ "Dcaron", 0x010E, 0 }, { "Del", 0x2207, 0 }, { "Delta", 0x0394, 0 },
	{ "DiacriticalAcute", 0x00B4, 0 }, { "DiacriticalDot", 0x02D9, 0 },
	{ "DiacriticalDoubleAcute", 0x02DD, 0 },
	{ "DiacriticalGrave", 0x0060, 0 }, { "DiacriticalTilde", 0x02DC, 0 },
	{ "Dot", 0x00A8, 0 }, { "DoubleDot", 0x00A8, 0 },
	{ "DoubleLeftArrow", 0x21D0, 0 }, { "DoubleRightArrow", 0x21D2, 0 },
	{ "DownArrow", 0x2193, 0 }, { "Dstrok", 0x0110, 0 },
	{ "ENG", 0x014A, 0 }, { "ETH", 0x00D0, 1 }, { "Eacute", 0x00C9, 1 },
	{ "Ecaron", 0x011A, 0 }, { "Ecirc", 0x00CA, 1 }, { "Edot", 0x0116, 0 },
	{ "Egrave", 0x00C8, 1 }, { "Element", 0x2208, 0 },
	{ "Emacr", 0x0112, 0 }, { "Eogon", 0x0118, 0 },
	{ "Epsilon", 0x0395, 0 }, { "Eta", 0x0397, 0 }, { "Euml", 0x00CB, 1 },
	{ "Exists", 0x2203, 0 }, { "ForAll", 0x2200, 0 }, { "GT", 0x003E, 1 },
	{ "Gamma", 0x0393, 0 }, { "Gammad", 0x03DC, 0 },
	{ "Gbreve", 0x011E, 0 }, { "Gcedil", 0x0122, 0 },
	{ "Gcirc", 0x011C, 0 }, { "Gdot", 0x0120, 0 }, { "Hacek", 0x02C7, 0 },
	{ "Hat", 0x005E, 0 }, { "Hcirc", 0x0124, 0 }, { "Hstrok", 0x0126, 0 },
	{ "IJlig", 0x0132, 0 }, { "Iacute", 0x00CD, 1 },
	{ "Icirc", 0x00CE, 1 }, { "Idot", 0x0130, 0 }, { "Igrave", 0x00CC, 1 },
	{ "Im", 0x2111, 0 }, { "Imacr", 0x012A, 0 }, { "Implies", 0x21D2, 0 },
	{ "Integral", 0x222B, 0 }, { "InvisibleComma", 0x2063, 0 },
	{ "InvisibleTimes", 0x2062, 0 }, { "Iogon", 0x012E, 0 },
	{ "Iota", 0x0399, 0 }, { "Itilde", 0x0128, 0 }, { "Iuml", 0x00CF, 1 },
	{ "Jcirc", 0x0134, 0 }, { "Kappa", 0x039A, 0 },
	{ "Kcedil", 0x0136, 0 }, { "LT", 0x003C, 1 }, { "Lacute", 0x0139, 0 },
	{ "Lambda", 0x039B, 0 }, { "Larr", 0x219E, 0 },
	{ "Lcaron", 0x013D, 0 }, { "Lcedil", 0x013B, 0 },
	{ "LeftAngleBracket", 0x27E8, 0 }, { "LeftArrow", 0x2190, 0 },
	{ "LeftCeiling", 0x2308, 0 }, { "LeftFloor", 0x230A, 0 },
	{ "LeftRightArrow", 0x2194, 0 }, { "Leftarrow", 0x21D0, 0 },
	{ "Leftrightarrow", 0x21D4, 0 }, { "Lmidot", 0x013F, 0 },
	{ "Lstrok", 0x0141, 0 }, { "MediumSpace", 0x205F, 0 },
	{ "MinusPlus", 0x2213, 0 }, { "Mu", 0x039C, 0 },
	{ "Nacute", 0x0143, 0 }, { "Ncaron", 0x0147, 0 },
	{ "Ncedil", 0x0145, 0 }, { "NegativeMediumSpace", 0x200B, 0 },
	{ "NegativeThickSpace", 0x200B, 0 },
	{ "NegativeThinSpace", 0x200B, 0 },
	{ "NegativeVeryThinSpace", 0x200B, 0 }, { "NewLine", 0x000A, 0 },
	{ "NoBreak", 0x2060, 0 }, { "NonBreakingSpace", 0x00A0, 0 },
	{ "NotEqual", 0x2260, 0 }, { "Ntilde", 0x00D1, 1 },
	{ "Nu", 0x039D, 0 }, { "OElig", 0x0152, 0 }, { "Oacute", 0x00D3, 1 },
	{ "Ocirc", 0x00D4, 1 }, { "Odblac", 0x0150, 0 },
	{ "Ograve", 0x00D2, 1 }, { "Omacr", 0x014C, 0 },
	{ "Omega", 0x03A9, 0 }, { "Omicron", 0x039F, 0 },
	{ "OpenCurlyDoubleQuote", 0x201C, 0 }, { "OpenCurlyQuote", 0x2018, 0 },
	{ "Oslash", 0x00D8, 1 }, { "Otilde", 0x00D5, 1 },
	{ "Ouml", 0x00D6, 1 }, { "PartialD", 0x2202, 0 }, { "Phi", 0x03A6, 0 },
	{ "Pi", 0x03A0, 0 }, { "PlusMinus", 0x00B1, 0 },
	{ "Prime", 0x2033, 0 }, { "Product", 0x220F, 0 }, { "Psi", 0x03A8, 0 },
	{ "QUOT", 0x0022, 1 }, { "REG", 0x00AE, 1 }, { "Racute", 0x0154, 0 },
	{ "Rarr", 0x21A0, 0 }, { "Rcaron", 0x0158, 0 },
	{ "Rcedil", 0x0156, 0 }, { "Re", 0x211C, 0 }, { "Rho", 0x03A1, 0 },
	{ "RightAngleBracket", 0x27E9, 0 }, { "RightArrow", 0x2192, 0 },
	{ "RightCeiling", 0x2309, 0 }, { "RightFloor", 0x230B, 0 },
	{ "Rightarrow", 0x21D2, 0 }, { "Sacute", 0x015A, 0 },
	{ "Scaron", 0x0160, 0 }, { "Scedil", 0x015E, 0 },
	{ "Scirc", 0x015C, 0 }, { "Sigma", 0x03A3, 0 },
	{ "SmallCircle", 0x2218, 0 }, { "Sqrt", 0x221A, 0 },
	{ "Square", 0x25A1, 0 }, { "SuchThat", 0x220B, 0 },
	{ "Sum", 0x2211, 0 }, { "THORN", 0x00DE, 1 }, { "TRADE", 0x2122, 0 },
	{ "Tab", 0x0009, 0 }, { "Tau", 0x03A4, 0 }, { "Tcaron", 0x0164, 0 },
	{ "Tcedil", 0x0162, 0 }, { "Therefore", 0x2234, 0 },
	{ "Theta", 0x0398, 0 }, { "ThinSpace", 0x2009, 0 },
	{ "Tilde", 0x223C, 0 }, { "Tstrok", 0x0166, 0 },
	{ "Uacute", 0x00DA, 1 }, { "Ubreve", 0x016C, 0 },
	{ "Ucirc", 0x00DB, 1 }, { "Udblac", 0x0170, 0 },
	{ "Ugrave", 0x00D9, 1 }, { "Umacr", 0x016A, 0 },
	{ "UnderBar", 0x005F, 0 }, { "Uogon", 0x0172, 0 },
	{ "UpArrow", 0x2191, 0 }, { "Upsi", 0x03D2, 0 },
	{ "Upsilon", 0x03A5, 0 }, { "Uring", 0x016E, 0 },
	{ "Utilde", 0x0168, 0 }, { "Uuml", 0x00DC, 1 },
	{ "Verbar", 0x2016, 0 }, { "Vert", 0x2016, 0 },
	{ "VerticalLine", 0x007C, 0 }, { "VeryThinSpace", 0x200A, 0 },
	{ "Wcirc", 0x0174, 0 }, { "Xi", 0x039E, 0 }, { "Yacute", 0x00DD, 1 },
	{ "Ycirc", 0x0176, 0 }, { "Yuml", 0x0178, 0 }, { "Zacute", 0x0179, 0 },
	{ "Zcaron", 0x017D, 0 }, { "Zdot", 0x017B, 0 },
	{ "ZeroWidthSpace", 0x200B, 0 }, { "Zeta", 0x0396, 0 },
	{ "aacute", 0x00E1, 1 }, { "abreve", 0x0103, 0 },
	{ "acirc", 0x00E2, 1 }, { "acute", 0x00B4, 1 }, { "aelig", 0x00E6, 1 },
	{ "af", 0x2061, 0 }, { "agrave", 0x00E0, 1 }, { "alefsym", 0x2135, 0 },
	{ "alpha", 0x03B1, 0 }, { "amacr", 0x0101, 0 }, { "amp", 0x0026, 1 },
	{ "and", 0x2227, 0 }, { "ang", 0x2220, 0 }, { "angle", 0x2220, 0 },
	{ "angst", 0x00C5, 0 }, { "aogon", 0x0105, 0 }, { "ap", 0x2248, 0 },
	{ "apos", 0x0027, 0 }, { "approx", 0x2248, 0 }, { "aring", 0x00E5, 1 },
	{ "ast", 0x002A, 0 }, { "asymp", 0x2248, 0 }, { "atilde", 0x00E3, 1 },
	{ "auml", 0x00E4, 1 }, { "backprime", 0x2035, 0 },
	{ "bdquo", 0x201E, 0 }, { "becaus", 0x2235, 0 },
	{ "because", 0x2235, 0 }, { "beta", 0x03B2, 0 },
	{ "bigcirc", 0x25EF, 0 }, { "bigstar", 0x2605, 0 },
	{ "bigtriangleup", 0x25B3, 0 }, { "blacksquare", 0x25AA, 0 },
	{ "blk12", 0x2592, 0 }, { "blk14", 0x2591, 0 }, { "blk34", 0x2593, 0 },
	{ "block", 0x2588, 0 }, { "bot", 0x22A5, 0 }, { "bottom", 0x22A5, 0 },
	{ "bprime", 0x2035, 0 }, { "breve", 0x02D8, 0 },
	{ "brvbar", 0x00A6, 1 }, { "bsol", 0x005C, 0 }, { "bull", 0x2022, 0 },
	{ "bullet", 0x2022, 0 }, { "cacute", 0x0107, 0 }, { "cap", 0x2229, 0 },
	{ "caret", 0x2041, 0 }, { "caron", 0x02C7, 0 },
	{ "ccaron", 0x010D, 0 }, { "ccedil", 0x00E7, 1 },
	{ "ccirc", 0x0109, 0 }, { "cdot", 0x010B, 0 }, { "cedil", 0x00B8, 1 },
	{ "cent", 0x00A2, 1 }, { "centerdot", 0x00B7, 0 },
	{ "check", 0x2713, 0 }, { "checkmark", 0x2713, 0 },
	{ "chi", 0x03C7, 0 }, { "cir", 0x25CB, 0 }, { "circ", 0x02C6, 0 },
	{ "circledR", 0x00AE, 0 }, { "clubs", 0x2663, 0 },
	{ "clubsuit", 0x2663, 0 }, { "colon", 0x003A, 0 },
	{ "comma", 0x002C, 0 }, { "commat", 0x0040, 0 },
	{ "compfn", 0x2218, 0 }, { "cong", 0x2245, 0 }, { "copy", 0x00A9, 1 },
	{ "copysr", 0x2117, 0 }, { "crarr", 0x21B5, 0 },
	{ "cross", 0x2717, 0 }, { "cup", 0x222A, 0 }, { "curren", 0x00A4, 1 },
	{ "dArr", 0x21D3, 0 }, { "dagger", 0x2020, 0 }, { "darr", 0x2193, 0 },
	{ "dash", 0x2010, 0 }, { "dblac", 0x02DD, 0 }, { "dcaron", 0x010F, 0 },
	{ "ddagger", 0x2021, 0 }, { "deg", 0x00B0, 1 }, { "delta", 0x03B4, 0 },
	{ "diamondsuit", 0x2666, 0 }, { "diams", 0x2666, 0 },
	{ "die", 0x00A8, 0 }, { "div", 0x00F7, 0 }, { "divide", 0x00F7, 1 },
	{ "dollar", 0x0024, 0 }, { "dot", 0x02D9, 0 },
	{ "downarrow", 0x2193, 0 }, { "dstrok", 0x0111, 0 },
	{ "dtri", 0x25BF, 0 }, { "dtrif", 0x25BE, 0 }, { "eacute", 0x00E9, 1 },
	{ "ecaron", 0x011B, 0 }, { "ecirc", 0x00EA, 1 }, { "edot", 0x0117, 0 },
	{ "egrave", 0x00E8, 1 }, { "ell", 0x2113, 0 }, { "emacr", 0x0113, 0 },
	{ "empty", 0x2205, 0 }, { "emptyset", 0x2205, 0 },
	{ "emsp", 0x2003, 0 }, { "emsp13", 0x2004, 0 },
	{ "emsp14", 0x2005, 0 }, { "eng", 0x014B, 0 }, { "ensp", 0x2002, 0 },
	{ "eogon", 0x0119, 0 }, { "epsi", 0x03B5, 0 },
	{ "epsilon", 0x03B5, 0 }, { "epsiv", 0x03F5, 0 },
	{ "equals", 0x003D, 0 }, { "equiv", 0x2261, 0 }, { "eta", 0x03B7, 0 },
	{ "eth", 0x00F0, 1 }, { "euml", 0x00EB, 1 }, { "euro", 0x20AC, 0 },
	{ "excl", 0x0021, 0 }, { "exist", 0x2203, 0 }, { "female", 0x2640, 0 },
	{ "ffilig", 0xFB03, 0 }, { "fflig", 0xFB00, 0 },
	{ "ffllig", 0xFB04, 0 }, { "filig", 0xFB01, 0 }, { "flat", 0x266D, 0 },
	{ "fllig", 0xFB02, 0 }, { "fnof", 0x0192, 0 }, { "forall", 0x2200, 0 },
	{ "frac12", 0x00BD, 1 }, { "frac14", 0x00BC, 1 },
	{ "frac34", 0x00BE, 1 }, { "frasl", 0x2044, 0 },
	{ "gamma", 0x03B3, 0 }, { "gammad", 0x03DD, 0 },
	{ "gbreve", 0x011F, 0 }, { "gcirc", 0x011D, 0 }, { "gdot", 0x0121, 0 },
	{ "ge", 0x2265, 0 }, { "geq", 0x2265, 0 }, { "gg", 0x226B, 0 },
	{ "grave", 0x0060, 0 }, { "gt", 0x003E, 1 }, { "hArr", 0x21D4, 0 },
	{ "hairsp", 0x200A, 0 }, { "half", 0x00BD, 0 }, { "harr", 0x2194, 0 },
	{ "hbar", 0x210F, 0 }, { "hcirc", 0x0125, 0 }, { "hearts", 0x2665, 0 },
	{ "heartsuit", 0x2665, 0 }, { "hellip", 0x2026, 0 },
	{ "horbar", 0x2015, 0 }, { "hstrok", 0x0127, 0 },
	{ "hybull", 0x2043, 0 }, { "hyphen", 0x2010, 0 },
	{ "iacute", 0x00ED, 1 }, { "ic", 0x2063, 0 }, { "icirc", 0x00EE, 1 },
	{ "iexcl", 0x00A1, 1 }, { "iff", 0x21D4, 0 }, { "igrave", 0x00EC, 1 },
	{ "ijlig", 0x0133, 0 }, { "imacr", 0x012B, 0 }, { "image", 0x2111, 0 },
	{ "imath", 0x0131, 0 }, { "in", 0x2208, 0 }, { "incare", 0x2105, 0 },
	{ "infin", 0x221E, 0 }, { "inodot", 0x0131, 0 }, { "int", 0x222B, 0 },
	{ "iogon", 0x012F, 0 }, { "iota", 0x03B9, 0 }, { "iquest", 0x00BF, 1 },
	{ "isin", 0x2208, 0 }, { "isinv", 0x2208, 0 }, { "it", 0x2062, 0 },
	{ "itilde", 0x0129, 0 }, { "iuml", 0x00EF, 1 }, { "jcirc", 0x0135, 0 },
	{ "kappa", 0x03BA, 0 }, { "kappav", 0x03F0, 0 },
	{ "kcedil", 0x0137, 0 }, { "kgreen", 0x0138, 0 },
	{ "lArr", 0x21D0, 0 }, { "lacute", 0x013A, 0 },
	{ "lambda", 0x03BB, 0 }, { "lang", 0x27E8, 0 },
	{ "langle", 0x27E8, 0 }, { "laquo", 0x00AB, 1 }, { "larr", 0x2190, 0 },
	{ "lbbrk", 0x2772, 0 }, { "lbrace", 0x007B, 0 },
	{ "lbrack", 0x005B, 0 }, { "lcaron", 0x013E, 0 },
	{ "lcedil", 0x013C, 0 }, { "lceil", 0x2308, 0 }, { "lcub", 0x007B, 0 },
	{ "ldquo", 0x201C, 0 }, { "ldquor", 0x201E, 0 }, { "le", 0x2264, 0 },
	{ "leftarrow", 0x2190, 0 }, { "leftrightarrow", 0x2194, 0 },
	{ "leq", 0x2264, 0 }, { "lfloor", 0x230A, 0 }, { "lhblk", 0x2584, 0 },
	{ "ll", 0x226A, 0 }, { "lmidot", 0x0140, 0 }, { "lowast", 0x2217, 0 },
	{ "lowbar", 0x005F, 0 }, { "loz", 0x25CA, 0 },
	{ "lozenge", 0x25CA, 0 }, { "lpar", 0x0028, 0 }, { "lrm", 0x200E, 0 },
	{ "lsaquo", 0x2039, 0 }, { "lsqb", 0x005B, 0 }, { "lsquo", 0x2018, 0 },
	{ "lsquor", 0x201A, 0 }, { "lstrok", 0x0142, 0 }, { "lt", 0x003C, 1 },
	{ "ltri", 0x25C3, 0 }, { "ltrif", 0x25C2, 0 }, { "macr", 0x00AF, 1 },
	{ "male", 0x2642, 0 }, { "malt", 0x2720, 0 }, { "maltese", 0x2720, 0 },
	{ "map", 0x21A6, 0 }, { "marker", 0x25AE, 0 }, { "mdash", 0x2014, 0 },
	{ "mho", 0x2127, 0 }, { "micro", 0x00B5, 1 }, { "mid", 0x2223, 0 },
	{ "midast", 0x002A, 0 }, { "middot", 0x00B7, 1 },
	{ "minus", 0x2212, 0 }, { "mldr", 0x2026, 0 }, { "mnplus", 0x2213, 0 },
	{ "mp", 0x2213, 0 }, { "mu", 0x03BC, 0 }, { "nabla", 0x2207, 0 },
	{ "nacute", 0x0144, 0 }, { "napos", 0x0149, 0 },
	{ "natur", 0x266E, 0 }, { "natural", 0x266E, 0 },
	{ "nbsp", 0x00A0, 1 }, { "ncaron", 0x0148, 0 },
	{ "ncedil", 0x0146, 0 }, { "ndash", 0x2013, 0 }, { "ne", 0x2260, 0 },
	{ "nearr", 0x2197, 0 }, { "nexist", 0x2204, 0 }, { "ni", 0x220B, 0 },
	{ "niv", 0x220B, 0 }, { "nldr", 0x2025, 0 }, { "nmid", 0x2224, 0 },
	{ "not", 0x00AC, 1 }, { "notin", 0x2209, 0 }, { "npar", 0x2226, 0 },
	{ "nsub", 0x2284, 0 }, { "ntilde", 0x00F1, 1 }, { "nu", 0x03BD, 0 },
	{ "num", 0x0023, 0 }, { "numero", 0x2116, 0 }, { "numsp", 0x2007, 0 },
	{ "nwarr", 0x2196, 0 }, { "oacute", 0x00F3, 1 },
	{ "ocirc", 0x00F4, 1 }, { "odblac", 0x0151, 0 },
	{ "oelig", 0x0153, 0 }, { "ogon", 0x02DB, 0 }, { "ograve", 0x00F2, 1 },
	{ "ohm", 0x03A9, 0 }, { "oline", 0x203E, 0 }, { "omacr", 0x014D, 0 },
	{ "omega", 0x03C9, 0 }, { "omicron", 0x03BF, 0 },
	{ "oplus", 0x2295, 0 }, { "or", 0x2228, 0 }, { "ordf", 0x00AA, 1 },
	{ "ordm", 0x00BA, 1 }, { "oslash", 0x00F8, 1 },
	{ "otilde", 0x00F5, 1 }, { "otimes", 0x2297, 0 },
	{ "ouml", 0x00F6, 1 }, { "par", 0x2225, 0 }, { "para", 0x00B6, 1 },
	{ "parallel", 0x2225, 0 }, { "part", 0x2202, 0 },
	{ "percnt", 0x0025, 0 }, { "period", 0x002E, 0 },
	{ "permil", 0x2030, 0 }, { "perp", 0x22A5, 0 },
	{ "pertenk", 0x2031, 0 }, { "phi", 0x03C6, 0 }, { "phiv", 0x03D5, 0 },
	{ "phone", 0x260E, 0 }, { "pi", 0x03C0, 0 }, { "piv", 0x03D6, 0 },
	{ "planck", 0x210F, 0 }, { "plus", 0x002B, 0 },
	{ "plusdo", 0x2214, 0 }, { "plusmn", 0x00B1, 1 }, { "pm", 0x00B1, 0 },
	{ "pound", 0x00A3, 1 }, { "prime", 0x2032, 0 }, { "prod", 0x220F, 0 },
	{ "prop", 0x221D, 0 }, { "psi", 0x03C8, 0 }, { "puncsp", 0x2008, 0 },
	{ "quest", 0x003F, 0 }, { "quot", 0x0022, 1 }, { "rArr", 0x21D2, 0 },
	{ "racute", 0x0155, 0 }, { "radic", 0x221A, 0 }, { "rang", 0x27E9, 0 },
	{ "rangle", 0x27E9, 0 }, { "raquo", 0x00BB, 1 }, { "rarr", 0x2192, 0 },
	{ "rbbrk", 0x2773, 0 }, { "rbrace", 0x007D, 0 },
	{ "rbrack", 0x005D, 0 }, { "rcaron", 0x0159, 0 },
	{ "rcedil", 0x0157, 0 }, { "rceil", 0x2309, 0 }, { "rcub", 0x007D, 0 },
	{ "rdquo", 0x201D, 0 }, { "rdquor", 0x201D, 0 }, { "real", 0x211C, 0 },
	{ "rect", 0x25AD, 0 }, { "reg", 0x00AE, 1 }, { "rfloor", 0x230B, 0 },
	{ "rho", 0x03C1, 0 }, { "rhov", 0x03F1, 0 },
	{ "rightarrow", 0x2192, 0 }, { "ring", 0x02DA, 0 },
	{ "rlm", 0x200F, 0 }, { "rpar", 0x0029, 0 }, { "rsaquo", 0x203A, 0 },
	{ "rsqb", 0x005D, 0 }, { "rsquo", 0x2019, 0 }, { "rsquor", 0x2019, 0 },
	{ "rtri", 0x25B9, 0 }, { "rtrif", 0x25B8, 0 }, { "sacute", 0x015B, 0 },
	{ "sbquo", 0x201A, 0 }, { "scaron", 0x0161, 0 },
	{ "scedil", 0x015F, 0 }, { "scirc", 0x015D, 0 }, { "sdot", 0x22C5, 0 },
	{ "searr", 0x2198, 0 }, { "sect", 0x00A7, 1 }, { "semi", 0x003B, 0 },
	{ "setminus", 0x2216, 0 }, { "setmn", 0x2216, 0 },
	{ "sext", 0x2736, 0 }, { "sharp", 0x266F, 0 }, { "shy", 0x00AD, 1 },
	{ "sigma", 0x03C3, 0 }, { "sigmaf", 0x03C2, 0 },
	{ "sigmav", 0x03C2, 0 }, { "sim", 0x223C, 0 }, { "slarr", 0x2190, 0 },
	{ "smallsetminus", 0x2216, 0 }, { "sol", 0x002F, 0 },
	{ "spades", 0x2660, 0 }, { "spadesuit", 0x2660, 0 },
	{ "squ", 0x25A1, 0 }, { "square", 0x25A1, 0 }, { "squf", 0x25AA, 0 },
	{ "srarr", 0x2192, 0 }, { "star", 0x2606, 0 }, { "starf", 0x2605, 0 },
	{ "straightepsilon", 0x03F5, 0 }, { "straightphi", 0x03D5, 0 },
	{ "strns", 0x00AF, 0 }, { "sub", 0x2282, 0 }, { "sube", 0x2286, 0 },
	{ "subset", 0x2282, 0 }, { "sum", 0x2211, 0 }, { "sung", 0x266A, 0 },
	{ "sup", 0x2283, 0 }, { "sup1", 0x00B9, 1 }, { "sup2", 0x00B2, 1 },
	{ "sup3", 0x00B3, 1 }, { "supe", 0x2287, 0 }, { "supset", 0x2283, 0 },
	{ "swarr", 0x2199, 0 }, { "szlig", 0x00DF, 1 }, { "tau", 0x03C4, 0 },
	{ "tcaron", 0x0165, 0 }, { "tcedil", 0x0163, 0 },
	{ "there4", 0x2234, 0 }, { "therefore", 0x2234, 0 },
	{ "theta", 0x03B8, 0 }, { "thetasym", 0x03D1, 0 },
	{ "thetav", 0x03D1, 0 }, { "thinsp", 0x2009, 0 },
	{ "thksim", 0x223C, 0 }, { "thorn", 0x00FE, 1 },
	{ "tilde", 0x02DC, 0 }, { "times", 0x00D7, 1 }, { "top", 0x22A4, 0 },
	{ "tprime", 0x2034, 0 }, { "trade", 0x2122, 0 },
	{ "tstrok", 0x0167, 0 }, { "uArr", 0x21D1, 0 },
	{ "uacute", 0x00FA, 1 }, { "uarr", 0x2191, 0 },
	{ "ubreve", 0x016D, 0 }, { "ucirc", 0x00FB, 1 },
	{ "udblac", 0x0171, 0 }, { "ugrave", 0x00F9, 1 },
	{ "uhblk", 0x2580, 0 }, { "umacr", 0x016B, 0 }, { "uml", 0x00A8, 1 },
	{ "uogon", 0x0173, 0 }, { "uparrow", 0x2191, 0 },
	{ "upsi", 0x03C5, 0 }, { "upsih", 0x03D2, 0 },
	{ "upsilon", 0x03C5, 0 }, { "uring", 0x016F, 0 },
	{ "utilde", 0x0169, 0 }, { "utri", 0x25B5, 0 }, { "utrif", 0x25B4, 0 },
	{ "uuml", 0x00FC, 1 }, { "varepsilon", 0x03F5, 0 },
	{ "varnothing", 0x2205, 0 }, { "varphi", 0x03D5, 0 },
	{ "varpi", 0x03D6, 0 }, { "varr", 0x2195, 0 },
	{ "varsigma", 0x03C2, 0 }, { "vartheta", 0x03D1, 0 },
	{ "vdash", 0x22A2, 0 }, { "vee", 0x2228, 0 }, { "verbar", 0x007C, 0 },
	{ "vert", 0x007C, 0 }, { "wcirc", 0x0175, 0 }, { "wedge", 0x2227, 0 },
	{ "weierp", 0x2118, 0 }, { "xcirc", 0x25EF, 0 },
	{ "xdtri", 0x25BD, 0 }, { "xi", 0x03BE, 0 }, { "xutri", 0x25B3, 0 },
	{ "yacute", 0x00FD, 1 }, { "ycirc", 0x0177, 0 }, { "yen", 0x00A5, 1 },
	{ "yuml", 0x00FF, 1 }, { "zacute", 0x017A, 0 },
	{ "zcaron", 0x017E, 0 }, { "zdot", 0x017C, 0 }, { "zeta", 0x03B6, 0 },
	{ "zwj", 0x200D, 0 }, { "zwnj", 0x200C, 0 },
};

/* What &#128; to &#159; mean: windows-1252, as browsers read them. */
static const uint16_t cp1252[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178
};

/* What the renderer and the tokenizer need to know of an element. */
#define EL_BLOCK	0x0001U	/* a line break before and after */
#define EL_CELL		0x0002U	/* a space: td, th */
#define EL_VOID		0x0004U	/* no content, no end tag */
#define EL_CLOSES_P	0x0008U	/* its start tag ends an open <p> */
#define EL_HEADING	0x0010U	/* h1 to h6 */
#define EL_RAW		0x0020U	/* text up to </name>, no tags inside */
#define EL_RCDATA	0x0040U	/* raw text with references resolved */
#define EL_SHOW		0x0080U	/* raw text a reader sees */
#define EL_PLAINTEXT	0x0100U	/* raw text to the end of input */
#define EL_ROOT		0x0200U	/* html, head, body: never hidden */
#define EL_HIDDEN	0x0400U	/* content never rendered */

#define EL_PARA		(EL_BLOCK | EL_CLOSES_P)

struct element {
	const char	*el_name;
	unsigned int	 el_flags;
};

/* Sorted by strcmp() for bsearch. */
static const struct element elements[] = {
	{ "a", 0 },			{ "address", EL_PARA },
	{ "area", EL_VOID },		{ "article", EL_PARA },
	{ "aside", EL_PARA },		{ "base", EL_VOID },
	{ "basefont", EL_VOID },	{ "bgsound", EL_VOID },
	{ "blockquote", EL_PARA },	{ "body", EL_ROOT },
	{ "br", EL_BLOCK | EL_VOID },	{ "caption", EL_BLOCK },
	{ "center", EL_PARA },		{ "col", EL_VOID },
	{ "dd", EL_PARA },		{ "details", EL_PARA },
	{ "dialog", EL_PARA },		{ "dir", EL_PARA },
	{ "div", EL_PARA },		{ "dl", EL_PARA },
	{ "dt", EL_PARA },		{ "embed", EL_VOID },
	{ "fieldset", EL_PARA },	{ "figcaption", EL_PARA },
	{ "figure", EL_PARA },		{ "footer", EL_PARA },
	{ "form", EL_PARA },		{ "frame", EL_VOID },
	{ "h1", EL_PARA | EL_HEADING },	{ "h2", EL_PARA | EL_HEADING },
	{ "h3", EL_PARA | EL_HEADING },	{ "h4", EL_PARA | EL_HEADING },
	{ "h5", EL_PARA | EL_HEADING },	{ "h6", EL_PARA | EL_HEADING },
	{ "head", EL_ROOT },		{ "header", EL_PARA },
	{ "hgroup", EL_PARA },		{ "hr", EL_PARA | EL_VOID },
	{ "html", EL_ROOT },		{ "iframe", EL_RAW },
	{ "img", EL_VOID },		{ "input", EL_VOID },
	{ "keygen", EL_VOID },		{ "legend", EL_BLOCK },
	{ "li", EL_PARA },		{ "link", EL_VOID },
	{ "listing", EL_PARA },		{ "main", EL_PARA },
	{ "menu", EL_PARA },		{ "meta", EL_VOID },
	{ "nav", EL_PARA },		{ "noembed", EL_RAW },
	{ "noframes", EL_RAW },		{ "ol", EL_PARA },
	{ "option", EL_BLOCK },		{ "p", EL_PARA },
	{ "param", EL_VOID },
	{ "plaintext", EL_PARA | EL_PLAINTEXT | EL_SHOW },
	{ "pre", EL_PARA },		{ "script", EL_RAW },
	{ "section", EL_PARA },		{ "source", EL_VOID },
	{ "style", EL_RAW },		{ "summary", EL_PARA },
	{ "table", EL_PARA },		{ "td", EL_CELL },
	{ "template", EL_HIDDEN },
	{ "textarea", EL_RAW | EL_RCDATA | EL_SHOW },
	{ "th", EL_CELL },		{ "title", EL_RAW | EL_RCDATA },
	{ "tr", EL_BLOCK },		{ "track", EL_VOID },
	{ "ul", EL_PARA },		{ "wbr", EL_VOID },
	{ "xmp", EL_PARA | EL_RAW | EL_SHOW },
};

/* What an inline style (or the hidden attribute) says of an element. */
#define DECL_DISPLAY_NONE	0x01U
#define DECL_DISPLAY_SET	0x02U	/* display, other than none */
#define DECL_TRANSPARENT	0x04U	/* opacity:0 */
#define DECL_VIS_HIDDEN		0x08U
#define DECL_VIS_SHOWN		0x10U
#define DECL_FONT_ZERO		0x20U
#define DECL_FONT_SET		0x40U	/* a size not scaled from the parent */
#define DECL_HIDDEN_ATTR	0x80U

/* The state of an open element inside a hidden one, inherited. */
#define HIDE_NONE	0x01U	/* no descendant can show again */
#define HIDE_VIS	0x02U	/* visibility:visible shows again */
#define HIDE_FONT	0x04U	/* a font size shows again */

/*
 * Elements whose start tag closes an earlier open one of the same kind
 * (<p>, <li>, table cells...); counted so that the stack is searched only
 * when one is open, which keeps every tag O(1) amortised.
 */
enum hide_slot {
	SLOT_P = 0,
	SLOT_LI,
	SLOT_DD,
	SLOT_DT,
	SLOT_TD,
	SLOT_TH,
	SLOT_TR,
	SLOT_A,
	SLOT_MAX
};

static const char *const slot_names[SLOT_MAX] = {
	"p", "li", "dd", "dt", "td", "th", "tr", "a"
};

#define HIDE_DEPTH	128

struct hide_elem {
	char		 he_name[HTML_NAMEMAX];
	unsigned int	 he_state;	/* HIDE_* */
	int		 he_slot;	/* enum hide_slot, -1 */
};

struct hbuf {
	char		*hb_p;
	size_t		 hb_len;
	size_t		 hb_size;
};

struct text_ctx {
	struct hbuf	 tc_out;
	struct hide_elem tc_stack[HIDE_DEPTH];	/* from the outer hidden */
	size_t		 tc_depth;
	size_t		 tc_count[SLOT_MAX];
	unsigned int	 tc_decl;	/* of the start tag being read */
	int		 tc_styled;	/* it had a style attribute */
	const struct html_handler *tc_also; /* gets the attributes too */
};

#define REF_ATTR	0x01	/* in an attribute value */
#define REF_NONUL	0x02	/* drop NUL bytes */
#define REF_RAW		0x04	/* no references at all */




/* HTML's whitespace: tab, LF, FF, CR, space. */
static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}


/* s[0..n) equals the lower-case word w, ASCII case ignored. */
static int
word_is(const char *s, size_t n, const char *w)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (w[i] == '\0' || ascii_tolower((unsigned char)s[i]) != w[i])
			return 0;
	return w[n] == '\0';
}

static int
hbuf_init(struct hbuf *hb, size_t size)
{
	hb->hb_len = 0;
	if (size == SIZE_MAX)
		return -1;
	hb->hb_size = size + 1;
	return (hb->hb_p = malloc(hb->hb_size)) == NULL ? -1 : 0;
}

/* Appends, keeping room for the final NUL. */
static int
hbuf_add(struct hbuf *hb, const char *p, size_t n)
{
	char	*np;
	size_t	 size = hb->hb_size;

	while (size - hb->hb_len <= n) {
		if (size > SIZE_MAX / 2)
			return -1;
		size *= 2;
	}
	if (size != hb->hb_size) {
		if ((np = realloc(hb->hb_p, size)) == NULL)
			return -1;
		hb->hb_p = np;
		hb->hb_size = size;
	}
	memcpy(hb->hb_p + hb->hb_len, p, n);
	hb->hb_len += n;
	return 0;
}

static char *
hbuf_finish(struct hbuf *hb, size_t *outlen)
{
	hb->hb_p[hb->hb_len] = '\0';
	if (outlen != NULL)
		*outlen = hb->hb_len;
	return hb->hb_p;
}

static size_t
utf8_encode(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* strcmp() of a NUL-terminated name against s[0..n). */
static int
name_cmp(const char *name, const char *s, size_t n)
{
	int	c;

	if ((c = strncmp(name, s, n)) != 0)
		return c;
	return name[n] == '\0' ? 0 : 1;
}

static const struct entity *
entity_find(const char *s, size_t n)
{
	size_t	lo = 0, hi = nitems(entities), mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = name_cmp(entities[mid].e_name, s, n)) == 0)
			return &entities[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const struct element *
element_find(const char *name)
{
	size_t	lo = 0, hi = nitems(elements), mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(elements[mid].el_name, name)) == 0)
			return &elements[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static unsigned int
element_flags(const char *name)
{
	const struct element	*el;

	return (el = element_find(name)) == NULL ? 0 : el->el_flags;
}

/* The code point a browser makes of a numeric reference. */
static uint32_t
html_fix_cp(uint32_t v)
{
	if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return REPLACEMENT;
	if (v >= 0x80 && v <= 0x9F)
		return cp1252[v - 0x80];
	return v;
}

/* "&#" is read; s holds the digits, hexadecimal after 'x'. */
static size_t
html_ref_numeric(const char *s, size_t len, uint32_t *cp)
{
	size_t		i = 0, ndigit = 0;
	uint32_t	v = 0, base = 10, d;
	int		c;

	if (len > 0 && (s[0] == 'x' || s[0] == 'X')) {
		base = 16;
		i++;
	}
	for (; i < len; i++, ndigit++) {
		c = ascii_tolower((unsigned char)s[i]);
		if (ascii_isdigit(c))
			d = (uint32_t)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else
			break;
		/* Past the last code point the value only has to stay big. */
		if (v <= 0x10FFFF)
			v = v * base + d;
	}
	if (ndigit == 0)
		return 0;
	if (i < len && s[i] == ';')
		i++;
	*cp = html_fix_cp(v);
	return i;
}

/*
 * "&" is read.  A name followed by ';' must be in the table; without
 * ';' the longest legacy name that prefixes the run counts, except in an
 * attribute value when a letter, digit or '=' follows it: browsers keep
 * "?a=1&copy=2" in a URL as written.
 */
static size_t
html_ref_named(const char *s, size_t len, int flags, uint32_t *cp)
{
	const struct entity	*e;
	size_t			 n, k;

	for (n = 0; n < len && n <= ENTITY_MAXLEN && ascii_isalnum(s[n]); n++)
		;
	if (n == 0)
		return 0;
	if (n < len && s[n] == ';' && (e = entity_find(s, n)) != NULL) {
		*cp = e->e_cp;
		return n + 1;
	}
	for (k = n < LEGACY_MAXLEN ? n : LEGACY_MAXLEN; k >= 2; k--) {
		if ((e = entity_find(s, k)) == NULL || !e->e_legacy)
			continue;
		if ((flags & REF_ATTR) && k < len &&
		    (ascii_isalnum(s[k]) || s[k] == '='))
			return 0;
		*cp = e->e_cp;
		return k;
	}
	return 0;
}

/*
 * The character reference at s (s[0] == '&'): returns how many bytes it
 * takes and sets *cp, or 0 when the '&' stands for itself.
 */
static size_t
html_ref(const char *s, size_t len, int flags, uint32_t *cp)
{
	size_t	n;

	if (len >= 2 && s[1] == '#') {
		n = html_ref_numeric(s + 2, len - 2, cp);
		return n == 0 ? 0 : n + 2;
	}
	n = html_ref_named(s + 1, len - 1, flags, cp);
	return n == 0 ? 0 : n + 1;
}

/* The next '&' (unless raw) or, with REF_NONUL, NUL from s[i]; or len. */
static size_t
html_decode_next(const char *s, size_t len, size_t i, int flags)
{
	const char	*amp = NULL, *nul = NULL;

	if (!(flags & REF_RAW))
		amp = memchr(s + i, '&', len - i);
	if (flags & REF_NONUL)
		nul = memchr(s + i, '\0', (amp != NULL ? (size_t)(amp - s) :
		    len) - i);
	if (nul != NULL)
		return (size_t)(nul - s);
	return amp != NULL ? (size_t)(amp - s) : len;
}

static int
html_decode_into(struct hbuf *hb, const char *s, size_t len, int flags)
{
	char		u[4];
	size_t		i = 0, run = 0, used;
	uint32_t	cp;

	while ((i = html_decode_next(s, len, i, flags)) < len) {
		if (s[i] == '&' && !(flags & REF_RAW) &&
		    (used = html_ref(s + i, len - i, flags, &cp)) > 0) {
			if (hbuf_add(hb, s + run, i - run) == -1 ||
			    hbuf_add(hb, u, utf8_encode(u, cp)) == -1)
				return -1;
			i += used;
			run = i;
		} else if (s[i] == '\0' && (flags & REF_NONUL)) {
			if (hbuf_add(hb, s + run, i - run) == -1)
				return -1;
			run = ++i;
		} else
			i++;
	}
	return hbuf_add(hb, s + run, i - run);
}

static char *
html_decode(const char *s, size_t len, size_t *outlen, int flags)
{
	struct hbuf	hb;

	if (hbuf_init(&hb, len) == -1)
		return NULL;
	if (html_decode_into(&hb, s, len, flags) == -1) {
		free(hb.hb_p);
		return NULL;
	}
	return hbuf_finish(&hb, outlen);
}

/* References resolved as in text; the decode_html target. */
char *
html_unescape(const char *s, size_t len, size_t *outlen)
{
	return html_decode(s, len, outlen, 0);
}

/* References resolved as in an attribute value. */
char *
html_unescape_attr(const char *s, size_t len, size_t *outlen)
{
	return html_decode(s, len, outlen, REF_ATTR);
}

/* Past "<!--": the comment ends at "-->" or "--!>"; "<!-->" is empty. */
static size_t
html_skip_comment(const char *s, size_t len, size_t i)
{
	const char	*p;

	if (i < len && s[i] == '>')
		return i + 1;
	if (i + 1 < len && s[i] == '-' && s[i + 1] == '>')
		return i + 2;
	while (i < len && (p = memchr(s + i, '-', len - i)) != NULL) {
		i = (size_t)(p - s);
		if (i + 2 < len && s[i + 1] == '-' && s[i + 2] == '>')
			return i + 3;
		if (i + 3 < len && s[i + 1] == '-' && s[i + 2] == '!' &&
		    s[i + 3] == '>')
			return i + 4;
		i++;
	}
	return len;
}

/* A bogus comment (<!DOCTYPE>, <![CDATA[...]]>, <?xml?>) ends at '>'. */
static size_t
html_skip_bogus(const char *s, size_t len, size_t i)
{
	const char	*p;

	if (i >= len || (p = memchr(s + i, '>', len - i)) == NULL)
		return len;
	return (size_t)(p - s) + 1;
}

/* Reads a tag name at s[i] into t; returns the offset after it. */
static size_t
html_tag_name(const char *s, size_t len, size_t i, struct html_tag *t)
{
	size_t	n = 0;

	memset(t, 0, sizeof(*t));
	for (; i < len && !is_space(s[i]) && s[i] != '/' && s[i] != '>';
	    i++, n++)
		if (n < HTML_NAMEMAX - 1)
			t->ht_name[n] = (char)ascii_tolower((unsigned char)s[i]);
	if (n >= HTML_NAMEMAX)
		t->ht_name[0] = '\0';
	return i;
}

/* An attribute value at s[i]; sets [*v0, *v1), returns the offset after. */
static size_t
html_attr_value(const char *s, size_t len, size_t i, size_t *v0, size_t *v1)
{
	const char	*q;

	if (s[i] == '"' || s[i] == '\'') {
		if ((q = memchr(s + i + 1, s[i], len - i - 1)) == NULL)
			return 0;
		*v0 = i + 1;
		*v1 = (size_t)(q - s);
		return *v1 + 1;
	}
	*v0 = i;
	while (i < len && !is_space(s[i]) && s[i] != '>')
		i++;
	*v1 = i;
	return i;
}

/* Where an attribute's name and value are, in the input. */
struct html_attr {
	size_t		 a_n0, a_n1;
	size_t		 a_v0, a_v1;
};

#define HTML_ATTRS	16	/* kept from a tag's first reading */

/*
 * Reads the attributes of a tag from s[i] up to its '>', calling hh_attr
 * for each when h is not NULL, or keeping the first HTML_ATTRS in a
 * (*na counts them all) when a is not NULL.  Returns the offset after
 * '>', or 0 when the input ends first; a handler's non-zero return goes
 * to *rc and ends the reading.
 */
static size_t
html_tag_attrs(const char *s, size_t len, size_t i, struct html_tag *t,
    const struct html_handler *h, int *rc, struct html_attr *a, size_t *na)
{
	size_t	n0, n1, v0, v1;

	for (;;) {
		for (; i < len && (is_space(s[i]) || s[i] == '/'); i++)
			if (s[i] == '/' && i + 1 < len && s[i + 1] == '>')
				t->ht_selfclosing = 1;
		if (i >= len)
			return 0;
		if (s[i] == '>')
			return i + 1;
		/* A name may start with '=', or hold '"' and '<'. */
		for (n0 = i++; i < len && !is_space(s[i]) && s[i] != '/' &&
		    s[i] != '>' && s[i] != '='; i++)
			;
		n1 = i;
		while (i < len && is_space(s[i]))
			i++;
		v0 = v1 = i;
		if (i < len && s[i] == '=') {
			for (i++; i < len && is_space(s[i]); i++)
				;
			if (i >= len ||
			    (i = html_attr_value(s, len, i, &v0, &v1)) == 0)
				return 0;
		}
		if (a != NULL && (*na)++ < HTML_ATTRS) {
			a[*na - 1].a_n0 = n0;
			a[*na - 1].a_n1 = n1;
			a[*na - 1].a_v0 = v0;
			a[*na - 1].a_v1 = v1;
		}
		if (h != NULL && h->hh_attr != NULL && (*rc = h->hh_attr(
		    h->hh_arg, t, s + n0, n1 - n0, s + v0, v1 - v0)) != 0)
			return i;
	}
}

/* Where the raw text of element name, starting at s[i], ends. */
static size_t
html_raw_end(const char *s, size_t len, size_t i, const char *name)
{
	const char	*p;
	size_t		 k, n = strlen(name);

	while (i < len && (p = memchr(s + i, '<', len - i)) != NULL) {
		k = (size_t)(p - s);
		if (len - k >= n + 2 && s[k + 1] == '/' &&
		    word_is(s + k + 2, n, name) && (k + n + 2 == len ||
		    is_space(s[k + n + 2]) || s[k + n + 2] == '/' ||
		    s[k + n + 2] == '>'))
			return k;
		i = k + 1;
	}
	return len;
}

/* After the start tag t: the text of script, style, title, ... */
static int
html_walk_raw(const char *s, size_t len, size_t *ip, const struct html_tag *t,
    const struct html_handler *h)
{
	const struct element	*el;
	size_t			 end;
	int			 rc = 0;

	el = element_find(t->ht_name);
	if (el == NULL || !(el->el_flags & (EL_RAW | EL_PLAINTEXT)))
		return 0;
	if (el->el_flags & EL_PLAINTEXT)
		end = len;
	else
		end = html_raw_end(s, len, *ip, el->el_name);
	if (end > *ip && h->hh_text != NULL)
		rc = h->hh_text(h->hh_arg, s + *ip, end - *ip, el->el_name);
	*ip = end;
	return rc;
}

/* The handler's calls for attributes kept by the first reading. */
static int
html_tag_kept(const char *s, const struct html_tag *t,
    const struct html_attr *a, size_t na, const struct html_handler *h)
{
	size_t	k;
	int	rc = 0;

	for (k = 0; k < na && rc == 0 && h->hh_attr != NULL; k++)
		rc = h->hh_attr(h->hh_arg, t, s + a[k].a_n0,
		    a[k].a_n1 - a[k].a_n0, s + a[k].a_v0,
		    a[k].a_v1 - a[k].a_v0);
	return rc;
}

/*
 * A start or end tag at s[*ip].  The tag is read first to find its end,
 * since one cut off by the end of input is dropped as browsers drop it,
 * and only then given to the handler: from what the first reading kept,
 * or, for a tag of many attributes, by reading it again.  Each byte is
 * read at most twice.
 */
static int
html_walk_tag(const char *s, size_t len, size_t *ip, int end,
    const struct html_handler *h)
{
	struct html_tag	 t;
	struct html_attr a[HTML_ATTRS];
	size_t		 i, stop, na = 0;
	int		 rc = 0, selfclosing;

	i = html_tag_name(s, len, *ip + (end ? 2 : 1), &t);
	if ((stop = html_tag_attrs(s, len, i, &t, NULL, &rc, a, &na)) == 0) {
		*ip = len;
		return 0;
	}
	selfclosing = t.ht_selfclosing;
	t.ht_end = end;
	t.ht_selfclosing = 0;
	if (na > HTML_ATTRS)
		html_tag_attrs(s, len, i, &t, h, &rc, NULL, NULL);
	else if ((rc = html_tag_kept(s, &t, a, na, h)) == 0)
		t.ht_selfclosing = selfclosing;
	if (rc == 0 && h->hh_tag != NULL)
		rc = h->hh_tag(h->hh_arg, &t);
	*ip = stop;
	if (rc == 0 && !end)
		rc = html_walk_raw(s, len, ip, &t, h);
	return rc;
}

/* Markup at s[*ip], as html_is_markup() found. */
static int
html_walk_markup(const char *s, size_t len, size_t *ip,
    const struct html_handler *h)
{
	size_t	i = *ip;

	switch (s[i + 1]) {
	case '!':
		if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0)
			*ip = html_skip_comment(s, len, i + 4);
		else
			*ip = html_skip_bogus(s, len, i + 2);
		return 0;
	case '?':
		*ip = html_skip_bogus(s, len, i + 2);
		return 0;
	case '/':
		if (ascii_isalpha(s[i + 2]))
			return html_walk_tag(s, len, ip, 1, h);
		*ip = s[i + 2] == '>' ? i + 3 : html_skip_bogus(s, len, i + 2);
		return 0;
	default:
		return html_walk_tag(s, len, ip, 0, h);
	}
}

/* Does the '<' at s[i] start markup, or stand for itself? */
static int
html_is_markup(const char *s, size_t len, size_t i)
{
	if (len - i < 2)
		return 0;
	if (s[i + 1] == '!' || s[i + 1] == '?' || ascii_isalpha(s[i + 1]))
		return 1;
	return s[i + 1] == '/' && len - i >= 3;
}

/* Where the text from s[i] ends: at a '<' that starts markup. */
static size_t
html_text_end(const char *s, size_t len, size_t i)
{
	const char	*lt;

	while (i < len && (lt = memchr(s + i, '<', len - i)) != NULL) {
		i = (size_t)(lt - s);
		if (html_is_markup(s, len, i))
			return i;
		i++;
	}
	return len;
}

int
html_walk(const char *s, size_t len, const struct html_handler *h)
{
	size_t	i = 0, end;
	int	rc;

	while (i < len) {
		end = html_text_end(s, len, i);
		if (end > i && h->hh_text != NULL &&
		    (rc = h->hh_text(h->hh_arg, s + i, end - i, NULL)) != 0)
			return rc;
		i = end;
		if (i < len && (rc = html_walk_markup(s, len, &i, h)) != 0)
			return rc;
	}
	return 0;
}

/*
 * Style values: lower case, comments removed, whitespace runs made one
 * space; in place, returns the new length.
 */
static size_t
css_normalize(char *s, size_t len)
{
	const char	*p;
	size_t		 i, o = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			for (i += 2; i < len &&
			    (p = memchr(s + i, '*', len - i)) != NULL; i++) {
				i = (size_t)(p - s);
				if (i + 1 < len && s[i + 1] == '/')
					break;
			}
			if (i >= len || s[i] != '*')
				i = len;
			else
				i++;
			continue;
		}
		if (is_space(s[i])) {
			if (o > 0 && s[o - 1] != ' ')
				s[o++] = ' ';
		} else
			s[o++] = (char)ascii_tolower((unsigned char)s[i]);
	}
	return o;
}

/* Trims spaces around s[*0..*n). */
static void
css_trim(const char **s, size_t *n)
{
	while (*n > 0 && **s == ' ') {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && (*s)[*n - 1] == ' ')
		(*n)--;
}

/* Is the number that starts v zero (and *intpart: is its integer part)? */
static size_t
css_number(const char *v, size_t n, int *zero, int *intzero)
{
	size_t	i = 0;

	*zero = *intzero = 1;
	if (i < n && v[i] == '+')
		i++;
	for (; i < n && ascii_isdigit(v[i]); i++)
		if (v[i] != '0')
			*zero = *intzero = 0;
	if (i < n && v[i] == '.')
		for (i++; i < n && ascii_isdigit(v[i]); i++)
			if (v[i] != '0')
				*zero = 0;
	return i;
}

/*
 * What a font-size value does: DECL_FONT_ZERO (zero, or unreadably below
 * a pixel or point), DECL_FONT_SET, or 0 when it scales the parent's
 * size, which a zero parent keeps at zero.
 */
static unsigned int
css_font_size(const char *v, size_t n)
{
	size_t	i;
	int	zero, intzero;

	if (n == 0 || v[0] == '-')
		return 0;
	if (!ascii_isdigit(v[0]) && v[0] != '.' && v[0] != '+') {
		if (word_is(v, n, "smaller") || word_is(v, n, "larger") ||
		    word_is(v, n, "inherit") || word_is(v, n, "unset"))
			return 0;
		return DECL_FONT_SET;
	}
	i = css_number(v, n, &zero, &intzero);
	if (zero)
		return DECL_FONT_ZERO;
	v += i;
	n -= i;
	if (word_is(v, n, "%") || word_is(v, n, "em") ||
	    word_is(v, n, "ex") || word_is(v, n, "ch"))
		return 0;
	if (intzero && (word_is(v, n, "px") || word_is(v, n, "pt")))
		return DECL_FONT_ZERO;
	return DECL_FONT_SET;
}

/* The size in the font shorthand ("font: bold 0/0 a"). */
static unsigned int
css_font(const char *v, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i = j + 1) {
		for (j = i; j < n && v[j] != ' '; j++)
			;
		if (ascii_isdigit(v[i]) || v[i] == '.') {
			const char	*slash = memchr(v + i, '/', j - i);

			return css_font_size(v + i, slash == NULL ?
			    j - i : (size_t)(slash - (v + i)));
		}
	}
	return 0;
}

static unsigned int
css_visibility(const char *v, size_t n, unsigned int decl)
{
	decl &= ~(DECL_VIS_HIDDEN | DECL_VIS_SHOWN);
	if (word_is(v, n, "hidden") || word_is(v, n, "collapse"))
		decl |= DECL_VIS_HIDDEN;
	else if (word_is(v, n, "visible") || word_is(v, n, "initial"))
		decl |= DECL_VIS_SHOWN;
	return decl;
}

/* One "property: value" of a style; later ones override, as in CSS. */
static unsigned int
css_declaration(const char *s, size_t n, unsigned int decl)
{
	const char	*colon, *v;
	size_t		 pn, vn;
	int		 zero, intzero;

	if ((colon = memchr(s, ':', n)) == NULL)
		return decl;
	pn = (size_t)(colon - s);
	v = colon + 1;
	vn = n - pn - 1;
	css_trim(&s, &pn);
	css_trim(&v, &vn);
	if (vn >= 9 && memcmp(v + vn - 9, "important", 9) == 0) {
		for (vn -= 9; vn > 0 && v[vn - 1] == ' '; vn--)
			;
		if (vn > 0 && v[vn - 1] == '!')
			vn--;
		css_trim(&v, &vn);
	}
	if (word_is(s, pn, "display")) {
		decl &= ~(DECL_DISPLAY_NONE | DECL_DISPLAY_SET);
		decl |= word_is(v, vn, "none") ? DECL_DISPLAY_NONE :
		    DECL_DISPLAY_SET;
	} else if (word_is(s, pn, "visibility"))
		decl = css_visibility(v, vn, decl);
	else if (word_is(s, pn, "opacity")) {
		decl &= ~DECL_TRANSPARENT;
		if (vn > 0 && css_number(v, vn, &zero, &intzero) > 0 && zero)
			decl |= DECL_TRANSPARENT;
	} else if (word_is(s, pn, "font-size")) {
		decl &= ~(DECL_FONT_ZERO | DECL_FONT_SET);
		decl |= css_font_size(v, vn);
	} else if (word_is(s, pn, "font")) {
		decl &= ~(DECL_FONT_ZERO | DECL_FONT_SET);
		decl |= css_font(v, vn);
	}
	return decl;
}

/* What a style attribute's value says; -1 if memory ran out. */
static int
css_hiding(const char *val, size_t vlen, unsigned int *decl)
{
	char	*s;
	size_t	 len, i, end;
	char	*semi;

	if ((s = html_unescape_attr(val, vlen, &len)) == NULL)
		return -1;
	len = css_normalize(s, len);
	for (i = 0; i < len; i = end + 1) {
		semi = memchr(s + i, ';', len - i);
		end = semi == NULL ? len : (size_t)(semi - s);
		*decl = css_declaration(s + i, end - i, *decl);
	}
	free(s);
	return 0;
}

static int
hide_slot(const char *name)
{
	int	i;

	for (i = 0; i < SLOT_MAX; i++)
		if (strcmp(slot_names[i], name) == 0)
			return i;
	return -1;
}

static int
text_hidden(const struct text_ctx *tc)
{
	return tc->tc_depth > 0 &&
	    tc->tc_stack[tc->tc_depth - 1].he_state != 0;
}

static void
hide_clear(struct text_ctx *tc)
{
	tc->tc_depth = 0;
	memset(tc->tc_count, 0, sizeof(tc->tc_count));
}

/* Pops open elements until depth remain. */
static void
hide_pop(struct text_ctx *tc, size_t depth)
{
	int	slot;

	while (tc->tc_depth > depth) {
		tc->tc_depth--;
		if ((slot = tc->tc_stack[tc->tc_depth].he_slot) != -1)
			tc->tc_count[slot]--;
	}
}

/* Pops the topmost open element called name and those above it. */
static int
hide_close(struct text_ctx *tc, const char *name)
{
	size_t	i;

	for (i = tc->tc_depth; i > 0; i--) {
		if (strcmp(tc->tc_stack[i - 1].he_name, name) == 0) {
			hide_pop(tc, i - 1);
			return 1;
		}
	}
	return 0;
}

static void
hide_close_slot(struct text_ctx *tc, enum hide_slot slot)
{
	if (tc->tc_count[slot] > 0)
		hide_close(tc, slot_names[slot]);
}

/* The inherited state of a child with declarations decl. */
static unsigned int
hide_state(unsigned int st, unsigned int decl)
{
	if (decl & (DECL_DISPLAY_NONE | DECL_TRANSPARENT))
		st |= HIDE_NONE;
	if (decl & DECL_VIS_HIDDEN)
		st |= HIDE_VIS;
	else if (decl & DECL_VIS_SHOWN)
		st &= ~HIDE_VIS;
	if (decl & DECL_FONT_ZERO)
		st |= HIDE_FONT;
	else if (decl & DECL_FONT_SET)
		st &= ~HIDE_FONT;
	return st;
}

static void
hide_push(struct text_ctx *tc, const char *name, unsigned int decl)
{
	struct hide_elem	*he;
	unsigned int		 st = 0;

	/* Too deep to follow: rather show hidden text than hide shown. */
	if (tc->tc_depth == HIDE_DEPTH) {
		hide_clear(tc);
		return;
	}
	if (tc->tc_depth > 0)
		st = tc->tc_stack[tc->tc_depth - 1].he_state;
	he = &tc->tc_stack[tc->tc_depth++];
	memcpy(he->he_name, name, sizeof(he->he_name));
	he->he_state = hide_state(st, decl);
	if ((he->he_slot = hide_slot(name)) != -1)
		tc->tc_count[he->he_slot]++;
}

/* Start tags that end open elements without an end tag (<p>, <li>). */
static void
hide_implied_end(struct text_ctx *tc, const char *name, unsigned int flags)
{
	const char	*top;

	if (flags & EL_CLOSES_P)
		hide_close_slot(tc, SLOT_P);
	if (tc->tc_depth == 0)
		return;
	top = tc->tc_stack[tc->tc_depth - 1].he_name;
	if ((flags & EL_HEADING) && (element_flags(top) & EL_HEADING))
		hide_pop(tc, tc->tc_depth - 1);
	else if (strcmp(name, "li") == 0)
		hide_close_slot(tc, SLOT_LI);
	else if (strcmp(name, "dd") == 0 || strcmp(name, "dt") == 0) {
		hide_close_slot(tc, SLOT_DD);
		hide_close_slot(tc, SLOT_DT);
	} else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0 ||
	    strcmp(name, "tr") == 0) {
		hide_close_slot(tc, SLOT_TD);
		hide_close_slot(tc, SLOT_TH);
		if (strcmp(name, "tr") == 0)
			hide_close_slot(tc, SLOT_TR);
	} else if (strcmp(name, "a") == 0)
		hide_close_slot(tc, SLOT_A);
	else if (strcmp(name, "option") == 0 && strcmp(top, "option") == 0)
		hide_pop(tc, tc->tc_depth - 1);
}

/*
 * A start tag.  Elements are followed only from the outermost hidden
 * one on; an unknown element written <x/> is taken as empty (SVG and
 * MathML honour the '/', HTML does not).
 */
static void
hide_start(struct text_ctx *tc, const struct html_tag *t, unsigned int flags,
    unsigned int decl)
{
	if (tc->tc_depth > 0)
		hide_implied_end(tc, t->ht_name, flags);
	if (flags & (EL_VOID | EL_ROOT))
		return;
	if (t->ht_selfclosing && element_find(t->ht_name) == NULL)
		return;
	if ((decl & DECL_HIDDEN_ATTR) && !(decl & DECL_DISPLAY_SET))
		decl |= DECL_DISPLAY_NONE;
	if (flags & EL_HIDDEN)
		decl |= DECL_DISPLAY_NONE;
	if (tc->tc_depth > 0 || hide_state(0, decl) != 0)
		hide_push(tc, t->ht_name, decl);
}

/*
 * An end tag.  One that closes nothing on the stack may close an
 * ancestor of the hidden element, which we do not follow: stop hiding.
 */
static void
hide_end(struct text_ctx *tc, const char *name, unsigned int flags)
{
	if (tc->tc_depth == 0 || (flags & EL_VOID))
		return;
	if (!hide_close(tc, name))
		hide_clear(tc);
}

/* A line break for a block, a space for a cell; one is enough. */
static int
text_break(struct text_ctx *tc, unsigned int flags)
{
	struct hbuf	*hb = &tc->tc_out;
	char		 c;

	if (flags & EL_BLOCK)
		c = '\n';
	else if (flags & EL_CELL)
		c = ' ';
	else
		return 0;
	if (hb->hb_len > 0 && hb->hb_p[hb->hb_len - 1] == c)
		return 0;
	return hbuf_add(hb, &c, 1);
}

static int
text_on_text(void *arg, const char *s, size_t n, const char *raw)
{
	struct text_ctx	*tc = arg;
	unsigned int	 flags;

	if (text_hidden(tc))
		return 0;
	if (raw == NULL)
		return html_decode_into(&tc->tc_out, s, n, REF_NONUL);
	flags = element_flags(raw);
	if (!(flags & EL_SHOW))
		return 0;
	return html_decode_into(&tc->tc_out, s, n,
	    REF_NONUL | (flags & EL_RCDATA ? 0 : REF_RAW));
}

static int
text_on_attr(void *arg, const struct html_tag *t, const char *name,
    size_t nlen, const char *val, size_t vlen)
{
	struct text_ctx	*tc = arg;

	if (t->ht_end)
		return 0;
	if (word_is(name, nlen, "hidden"))
		tc->tc_decl |= DECL_HIDDEN_ATTR;
	else if (word_is(name, nlen, "style") && !tc->tc_styled) {
		/* Browsers keep the first of repeated attributes. */
		tc->tc_styled = 1;
		return css_hiding(val, vlen, &tc->tc_decl);
	} else if (word_is(name, nlen, "size") &&
	    strcmp(t->ht_name, "font") == 0)
		tc->tc_decl |= DECL_FONT_SET;
	return 0;
}

/* text_on_attr(), and the attribute to the caller's handler. */
static int
text_on_attr_tee(void *arg, const struct html_tag *t, const char *name,
    size_t nlen, const char *val, size_t vlen)
{
	struct text_ctx	*tc = arg;
	int		 rc;

	if ((rc = text_on_attr(arg, t, name, nlen, val, vlen)) != 0)
		return rc;
	return tc->tc_also->hh_attr(tc->tc_also->hh_arg, t, name, nlen, val,
	    vlen);
}

/* The element's own line break counts only where it is shown. */
static int
text_on_tag(void *arg, const struct html_tag *t)
{
	struct text_ctx	*tc = arg;
	unsigned int	 flags = element_flags(t->ht_name);
	unsigned int	 decl = tc->tc_decl;
	int		 was_hidden = text_hidden(tc);

	tc->tc_decl = 0;
	tc->tc_styled = 0;
	if (t->ht_end) {
		hide_end(tc, t->ht_name, flags);
		return was_hidden ? 0 : text_break(tc, flags);
	}
	hide_start(tc, t, flags, decl);
	return text_hidden(tc) ? 0 : text_break(tc, flags);
}

/* The text a reader sees; see the top of this file. */
char *
html_to_text(const char *s, size_t len, size_t *outlen)
{
	return html_to_text_tee(s, len, outlen, NULL);
}

/*
 * html_to_text(), giving each attribute to also's hh_attr on the way
 * (when also is not NULL), so that one walk serves a caller that wants
 * both; a non-zero return of hh_attr ends the walk and fails.
 */
char *
html_to_text_tee(const char *s, size_t len, size_t *outlen,
    const struct html_handler *also)
{
	struct text_ctx		*tc;
	struct html_handler	 h;
	char			*out = NULL;

	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		return NULL;
	if (hbuf_init(&tc->tc_out, len) == -1) {
		free(tc);
		return NULL;
	}
	tc->tc_also = also;
	h.hh_text = text_on_text;
	h.hh_attr = also != NULL && also->hh_attr != NULL ? text_on_attr_tee :
	    text_on_attr;
	h.hh_tag = text_on_tag;
	h.hh_arg = tc;
	if (html_walk(s, len, &h) == 0)
		out = hbuf_finish(&tc->tc_out, outlen);
	else
		free(tc->tc_out.hb_p);
	free(tc);
	return out;
}
