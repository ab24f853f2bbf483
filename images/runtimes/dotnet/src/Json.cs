// JSON for lamina's dotnet runtime: parsing, serialising, and conversion of parsed values
// to a handler's parameter type. Written here rather than taken from Mono's assemblies:
// System.Runtime.Serialization.Json and System.Web.Extensions each cost tens of
// milliseconds to load and JIT at every cold start.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Text;

namespace Lamina.Runtime
{
    public sealed class JsonException : Exception
    {
        public JsonException(string message) : base(message) { }
    }

    /// <summary>
    /// Parsed values: objects as Dictionary&lt;string, object&gt; (insertion order kept),
    /// arrays as List&lt;object&gt;, integers as long (or decimal when larger), other
    /// numbers as double, and string, bool, null.
    /// </summary>
    public static class Json
    {
        const int MaxDepth = 1000;

        public static object Parse(string s)
        {
            int pos = 0;
            SkipWs(s, ref pos);
            object v = Value(s, ref pos, 0);
            SkipWs(s, ref pos);
            if (pos != s.Length)
                throw Error("unexpected data after the JSON value", pos);
            return v;
        }

        static JsonException Error(string what, int pos)
        {
            return new JsonException(what + " at offset " + pos.ToString(CultureInfo.InvariantCulture));
        }

        static void SkipWs(string s, ref int pos)
        {
            while (pos < s.Length)
            {
                char c = s[pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                    break;
                pos++;
            }
        }

        static object Value(string s, ref int pos, int depth)
        {
            if (depth > MaxDepth)
                throw Error("nesting too deep", pos);
            if (pos >= s.Length)
                throw Error("unexpected end of input", pos);
            char c = s[pos];
            switch (c)
            {
                case '{': return ParseObject(s, ref pos, depth);
                case '[': return ParseArray(s, ref pos, depth);
                case '"': return ParseString(s, ref pos);
                case 't': Literal(s, ref pos, "true"); return true;
                case 'f': Literal(s, ref pos, "false"); return false;
                case 'n': Literal(s, ref pos, "null"); return null;
            }
            if (c == '-' || (c >= '0' && c <= '9'))
                return ParseNumber(s, ref pos);
            throw Error("unexpected character '" + c + "'", pos);
        }

        static void Literal(string s, ref int pos, string word)
        {
            if (string.CompareOrdinal(s, pos, word, 0, word.Length) != 0)
                throw Error("invalid literal", pos);
            pos += word.Length;
        }

        static Dictionary<string, object> ParseObject(string s, ref int pos, int depth)
        {
            var d = new Dictionary<string, object>();
            pos++;
            SkipWs(s, ref pos);
            if (pos < s.Length && s[pos] == '}')
            {
                pos++;
                return d;
            }
            for (;;)
            {
                SkipWs(s, ref pos);
                if (pos >= s.Length || s[pos] != '"')
                    throw Error("expected a property name", pos);
                string key = ParseString(s, ref pos);
                SkipWs(s, ref pos);
                if (pos >= s.Length || s[pos] != ':')
                    throw Error("expected ':'", pos);
                pos++;
                SkipWs(s, ref pos);
                d[key] = Value(s, ref pos, depth + 1);
                SkipWs(s, ref pos);
                if (pos >= s.Length)
                    throw Error("unterminated object", pos);
                char c = s[pos++];
                if (c == '}')
                    return d;
                if (c != ',')
                    throw Error("expected ',' or '}'", pos - 1);
            }
        }

        static List<object> ParseArray(string s, ref int pos, int depth)
        {
            var a = new List<object>();
            pos++;
            SkipWs(s, ref pos);
            if (pos < s.Length && s[pos] == ']')
            {
                pos++;
                return a;
            }
            for (;;)
            {
                SkipWs(s, ref pos);
                a.Add(Value(s, ref pos, depth + 1));
                SkipWs(s, ref pos);
                if (pos >= s.Length)
                    throw Error("unterminated array", pos);
                char c = s[pos++];
                if (c == ']')
                    return a;
                if (c != ',')
                    throw Error("expected ',' or ']'", pos - 1);
            }
        }

        static string ParseString(string s, ref int pos)
        {
            int start = ++pos;
            while (pos < s.Length)
            {
                char c = s[pos];
                if (c == '"')
                    return s.Substring(start, pos++ - start);
                if (c == '\\')
                    break;
                if (c < 0x20)
                    throw Error("control character in string", pos);
                pos++;
            }
            var b = new StringBuilder(s, start, pos - start, pos - start + 16);
            while (pos < s.Length)
            {
                char c = s[pos++];
                if (c == '"')
                    return b.ToString();
                if (c < 0x20)
                    throw Error("control character in string", pos - 1);
                if (c != '\\')
                {
                    b.Append(c);
                    continue;
                }
                if (pos >= s.Length)
                    break;
                char e = s[pos++];
                switch (e)
                {
                    case '"': case '\\': case '/': b.Append(e); break;
                    case 'b': b.Append('\b'); break;
                    case 'f': b.Append('\f'); break;
                    case 'n': b.Append('\n'); break;
                    case 'r': b.Append('\r'); break;
                    case 't': b.Append('\t'); break;
                    case 'u':
                        if (pos + 4 > s.Length)
                            throw Error("truncated \\u escape", pos);
                        int v = 0;
                        for (int i = 0; i < 4; i++)
                        {
                            char h = s[pos++];
                            int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                            if (d < 0)
                                throw Error("bad \\u escape", pos - 1);
                            v = v * 16 + d;
                        }
                        b.Append((char)v);
                        break;
                    default:
                        throw Error("bad escape '\\" + e + "'", pos - 1);
                }
            }
            throw Error("unterminated string", pos);
        }

        static object ParseNumber(string s, ref int pos)
        {
            int start = pos;
            if (s[pos] == '-')
                pos++;
            if (pos >= s.Length)
                throw Error("truncated number", pos);
            if (s[pos] == '0')
                pos++;
            else if (s[pos] >= '1' && s[pos] <= '9')
                while (pos < s.Length && s[pos] >= '0' && s[pos] <= '9')
                    pos++;
            else
                throw Error("bad number", pos);
            bool integral = true;
            if (pos < s.Length && s[pos] == '.')
            {
                integral = false;
                int d = ++pos;
                while (pos < s.Length && s[pos] >= '0' && s[pos] <= '9')
                    pos++;
                if (pos == d)
                    throw Error("bad number: no digits after '.'", pos);
            }
            if (pos < s.Length && (s[pos] == 'e' || s[pos] == 'E'))
            {
                integral = false;
                pos++;
                if (pos < s.Length && (s[pos] == '+' || s[pos] == '-'))
                    pos++;
                int d = pos;
                while (pos < s.Length && s[pos] >= '0' && s[pos] <= '9')
                    pos++;
                if (pos == d)
                    throw Error("bad number: no digits in the exponent", pos);
            }
            string t = s.Substring(start, pos - start);
            if (integral)
            {
                long l;
                if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l))
                    return l;
                decimal m;
                if (decimal.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out m))
                    return m;
            }
            return double.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        // ------------------------------------------------------------ writing

        public static string Write(object o)
        {
            var b = new StringBuilder(256);
            Write(b, o, 0);
            return b.ToString();
        }

        static readonly char[] Hex = "0123456789abcdef".ToCharArray();

        public static void Quote(StringBuilder b, string s)
        {
            b.Append('"');
            int run = 0;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c >= 0x20 && c != '"' && c != '\\' && c != '\u2028' && c != '\u2029')
                    continue;
                b.Append(s, run, i - run);
                run = i + 1;
                switch (c)
                {
                    case '"': b.Append("\\\""); break;
                    case '\\': b.Append("\\\\"); break;
                    case '\n': b.Append("\\n"); break;
                    case '\r': b.Append("\\r"); break;
                    case '\t': b.Append("\\t"); break;
                    case '\b': b.Append("\\b"); break;
                    case '\f': b.Append("\\f"); break;
                    default:
                        b.Append("\\u").Append(Hex[(c >> 12) & 15]).Append(Hex[(c >> 8) & 15])
                            .Append(Hex[(c >> 4) & 15]).Append(Hex[c & 15]);
                        break;
                }
            }
            b.Append(s, run, s.Length - run);
            b.Append('"');
        }

        static void Write(StringBuilder b, object o, int depth)
        {
            if (depth > MaxDepth)
                throw new JsonException("the value nests too deeply (a cycle?)");
            if (o == null || o is DBNull)
            {
                b.Append("null");
                return;
            }
            string str = o as string;
            if (str != null)
            {
                Quote(b, str);
                return;
            }
            if (o is bool)
            {
                b.Append((bool)o ? "true" : "false");
                return;
            }
            if (o is double || o is float)
            {
                double d = Convert.ToDouble(o, CultureInfo.InvariantCulture);
                if (double.IsNaN(d) || double.IsInfinity(d))
                    b.Append("null");
                else
                    b.Append(d.ToString("R", CultureInfo.InvariantCulture));
                return;
            }
            if (o is int || o is long || o is short || o is sbyte || o is byte || o is ushort || o is uint
                || o is ulong || o is decimal)
            {
                b.Append(((IFormattable)o).ToString(null, CultureInfo.InvariantCulture));
                return;
            }
            if (o is char || o is Guid || o is TimeSpan)
            {
                Quote(b, o.ToString());
                return;
            }
            if (o is DateTime)
            {
                Quote(b, ((DateTime)o).ToString("o", CultureInfo.InvariantCulture));
                return;
            }
            if (o is DateTimeOffset)
            {
                Quote(b, ((DateTimeOffset)o).ToString("o", CultureInfo.InvariantCulture));
                return;
            }
            if (o is Enum)
            {
                b.Append(Convert.ToInt64(o, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture));
                return;
            }
            byte[] bytes = o as byte[];
            if (bytes != null)
            {
                Quote(b, Convert.ToBase64String(bytes));
                return;
            }
            IDictionary dict = o as IDictionary;
            if (dict != null)
            {
                b.Append('{');
                bool first = true;
                foreach (DictionaryEntry e in dict)
                {
                    if (!first)
                        b.Append(',');
                    first = false;
                    Quote(b, Convert.ToString(e.Key, CultureInfo.InvariantCulture));
                    b.Append(':');
                    Write(b, e.Value, depth + 1);
                }
                b.Append('}');
                return;
            }
            IEnumerable seq = o as IEnumerable;
            if (seq != null)
            {
                b.Append('[');
                bool first = true;
                foreach (object e in seq)
                {
                    if (!first)
                        b.Append(',');
                    first = false;
                    Write(b, e, depth + 1);
                }
                b.Append(']');
                return;
            }
            WriteObject(b, o, depth);
        }

        /// <summary>A POCO by its public readable properties and public fields.</summary>
        static void WriteObject(StringBuilder b, object o, int depth)
        {
            Type t = o.GetType();
            b.Append('{');
            bool first = true;
            foreach (PropertyInfo p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (!p.CanRead || p.GetIndexParameters().Length != 0)
                    continue;
                object v;
                try
                {
                    v = p.GetValue(o, null);
                }
                catch (TargetInvocationException e)
                {
                    throw new JsonException("cannot read " + t.FullName + "." + p.Name + ": " + e.InnerException.Message);
                }
                if (!first)
                    b.Append(',');
                first = false;
                Quote(b, p.Name);
                b.Append(':');
                Write(b, v, depth + 1);
            }
            foreach (FieldInfo f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                if (!first)
                    b.Append(',');
                first = false;
                Quote(b, f.Name);
                b.Append(':');
                Write(b, f.GetValue(o), depth + 1);
            }
            b.Append('}');
        }

        // ------------------------------------------------------------ conversion

        /// <summary>A parsed value as an instance of type t.</summary>
        public static object Convert_(object v, Type t, string path)
        {
            if (t == typeof(object))
                return v;
            Type under = Nullable.GetUnderlyingType(t);
            if (v == null)
            {
                if (t.IsValueType && under == null)
                    return Activator.CreateInstance(t);
                return null;
            }
            if (under != null)
                t = under;
            if (t == typeof(string))
                return v is string ? v : Write(v); // a JSON string's value, else the JSON text
            if (t.IsPrimitive || t == typeof(decimal))
            {
                try
                {
                    if (t == typeof(bool))
                    {
                        if (v is bool)
                            return v;
                        throw new InvalidCastException();
                    }
                    if (t == typeof(char))
                    {
                        string cs = v as string;
                        if (cs != null && cs.Length == 1)
                            return cs[0];
                        throw new InvalidCastException();
                    }
                    if (v is string)
                        return Convert.ChangeType(decimal.Parse((string)v, NumberStyles.Float, CultureInfo.InvariantCulture), t, CultureInfo.InvariantCulture);
                    if (v is bool || v is IDictionary || v is IList)
                        throw new InvalidCastException();
                    return Convert.ChangeType(v, t, CultureInfo.InvariantCulture);
                }
                catch (Exception e) when (e is InvalidCastException || e is FormatException || e is OverflowException)
                {
                    throw Mismatch(v, t, path);
                }
            }
            if (t.IsEnum)
            {
                string es = v as string;
                if (es != null)
                {
                    try
                    {
                        return Enum.Parse(t, es, true);
                    }
                    catch (ArgumentException)
                    {
                        throw Mismatch(v, t, path);
                    }
                }
                if (v is long)
                    return Enum.ToObject(t, (long)v);
                throw Mismatch(v, t, path);
            }
            if (t == typeof(DateTime) && v is string)
                return DateTime.Parse((string)v, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            if (t == typeof(Guid) && v is string)
                return new Guid((string)v);
            if (t == typeof(byte[]) && v is string)
                return Convert.FromBase64String((string)v);
            var obj = v as Dictionary<string, object>;
            var list = v as List<object>;
            if (t.IsArray)
            {
                if (list == null)
                    throw Mismatch(v, t, path);
                Type et = t.GetElementType();
                Array a = Array.CreateInstance(et, list.Count);
                for (int i = 0; i < list.Count; i++)
                    a.SetValue(Convert_(list[i], et, path + "[" + i + "]"), i);
                return a;
            }
            if (t.IsGenericType)
            {
                Type def = t.GetGenericTypeDefinition();
                Type[] args = t.GetGenericArguments();
                if (args.Length == 2 && (def == typeof(Dictionary<,>) || def == typeof(IDictionary<,>)
                    || def == typeof(IReadOnlyDictionary<,>)) && args[0] == typeof(string))
                {
                    if (obj == null)
                        throw Mismatch(v, t, path);
                    var d = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(args));
                    foreach (var e in obj)
                        d[e.Key] = Convert_(e.Value, args[1], path + "." + e.Key);
                    return d;
                }
                if (args.Length == 1 && (def == typeof(List<>) || def == typeof(IList<>) || def == typeof(IEnumerable<>)
                    || def == typeof(ICollection<>) || def == typeof(IReadOnlyList<>) || def == typeof(IReadOnlyCollection<>)))
                {
                    if (list == null)
                        throw Mismatch(v, t, path);
                    var l = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(args));
                    for (int i = 0; i < list.Count; i++)
                        l.Add(Convert_(list[i], args[0], path + "[" + i + "]"));
                    return l;
                }
            }
            if (t.IsAssignableFrom(v.GetType()))
                return v; // IDictionary, IList, IEnumerable...
            if (obj == null)
                throw Mismatch(v, t, path);
            return ConvertObject(obj, t, path);
        }

        /// <summary>A POCO: public settable properties and public fields, names matched
        /// case-insensitively; unknown properties are ignored.</summary>
        static object ConvertObject(Dictionary<string, object> obj, Type t, string path)
        {
            object o;
            try
            {
                o = Activator.CreateInstance(t);
            }
            catch (Exception e)
            {
                throw new JsonException("cannot create " + t.FullName + " for " + path
                    + ": it needs a public constructor without parameters (" + e.Message + ")");
            }
            foreach (var e in obj)
            {
                string p = path + "." + e.Key;
                PropertyInfo pi = t.GetProperty(e.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
                if (pi != null && pi.CanWrite && pi.GetIndexParameters().Length == 0)
                {
                    pi.SetValue(o, Convert_(e.Value, pi.PropertyType, p), null);
                    continue;
                }
                FieldInfo fi = t.GetField(e.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
                if (fi != null && !fi.IsInitOnly)
                    fi.SetValue(o, Convert_(e.Value, fi.FieldType, p));
            }
            return o;
        }

        static JsonException Mismatch(object v, Type t, string path)
        {
            string what = v == null ? "null" : v is IDictionary ? "an object" : v is IList ? "an array"
                : v is string ? "a string" : v is bool ? "a boolean" : "a number";
            return new JsonException("cannot convert " + what + " at " + path + " to " + t.FullName);
        }
    }
}
