package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/microcosm-cc/bluemonday"
	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway/mailclient"
	"github.com/sealgate/sealgate/gateway/usermsg"
)

// mailFile is the optional config file, os.UserConfigDir()/sealgate/mail.toml (or
// $SEALGATE_MAIL_CONFIG). Flags override it; SEALGATE_PASSWORD overrides its password.
type mailFile struct {
	SMTP        string `toml:"smtp"`
	IMAP        string `toml:"imap"`
	User        string `toml:"user"`
	Password    string `toml:"password"`
	ImplicitTLS bool   `toml:"implicit_tls"`
	Insecure    bool   `toml:"insecure"`
}

type mailFlags struct {
	smtp, imap, user, folder string
	passwordStdin            bool
	implicitTLS, insecure    bool
	stdin                    *bufio.Reader // what is left of stdin after the password line
}

func mailCmd(g *globals) *cobra.Command {
	f := &mailFlags{}
	c := group("mail", "Command-driven user agent: send and read mail over SMTP submission and IMAP")
	c.Long = "A command-driven mail user agent for any server (SMTP submission + IMAP).\n" +
		"Settings come from flags, else from the config file " + "(" + mailConfigHint() + ").\n" +
		"The password comes from --password-stdin (the first line of standard input), else $SEALGATE_PASSWORD, else the file."
	pf := c.PersistentFlags()
	pf.StringVar(&f.smtp, "smtp", "", "SMTP submission server HOST:PORT")
	pf.StringVar(&f.imap, "imap", "", "IMAP server HOST:PORT")
	pf.StringVar(&f.user, "user", "", "your address (login name and sender)")
	pf.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	pf.BoolVar(&f.implicitTLS, "implicit-tls", false, "TLS from the start (ports 465/993) instead of STARTTLS")
	pf.BoolVar(&f.insecure, "insecure", false, "accept any server certificate")
	pf.StringVar(&f.folder, "folder", "INBOX", "folder for list, read, reply and forward")
	c.AddCommand(mailSendCmd(g, f), mailListCmd(g, f), mailReadCmd(g, f), mailReplyCmd(g, f), mailForwardCmd(g, f), mailFoldersCmd(g, f))
	return c
}

func mailConfigHint() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "sealgate", "mail.toml")
	}
	return "$XDG_CONFIG_HOME/sealgate/mail.toml"
}

// config merges the file, the environment and the flags.
func (f *mailFlags) config(g *globals, cmd *cobra.Command) (mailclient.Config, error) {
	var file mailFile
	path := g.env.Getenv("SEALGATE_MAIL_CONFIG")
	if path == "" {
		if d, err := os.UserConfigDir(); err == nil {
			path = filepath.Join(d, "sealgate", "mail.toml")
		}
	}
	if path != "" {
		if _, err := toml.DecodeFile(path, &file); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return mailclient.Config{}, fmt.Errorf("mail config %s: %v", path, err)
		}
	}
	cfg := mailclient.Config{SMTP: file.SMTP, IMAP: file.IMAP, User: file.User, Password: file.Password,
		ImplicitTLS: file.ImplicitTLS, Insecure: file.Insecure}
	fl := cmd.Flags()
	if fl.Changed("smtp") {
		cfg.SMTP = f.smtp
	}
	if fl.Changed("imap") {
		cfg.IMAP = f.imap
	}
	if fl.Changed("user") {
		cfg.User = f.user
	}
	if fl.Changed("implicit-tls") {
		cfg.ImplicitTLS = f.implicitTLS
	}
	if fl.Changed("insecure") {
		cfg.Insecure = f.insecure
	}
	f.stdin = bufio.NewReader(g.env.Stdin)
	switch {
	case f.passwordStdin:
		line, err := f.stdin.ReadString('\n')
		if err != nil && err != io.EOF {
			return cfg, err
		}
		cfg.Password = strings.TrimRight(line, "\r\n")
		if cfg.Password == "" {
			return cfg, errors.New("no password on the first line of standard input")
		}
	case g.env.Getenv("SEALGATE_PASSWORD") != "":
		cfg.Password = g.env.Getenv("SEALGATE_PASSWORD")
	}
	if cfg.User == "" {
		return cfg, errors.New("no user: give --user ADDRESS or user in the config file")
	}
	if cfg.Password == "" {
		return cfg, errors.New("no password: use --password-stdin or set SEALGATE_PASSWORD")
	}
	return cfg, nil
}

// text is the body the user writes: standard input, or $EDITOR on a draft when standard input
// is a terminal (or --edit is given).
func (f *mailFlags) text(g *globals, draft string, edit bool) (string, error) {
	if file, ok := g.env.Stdin.(*os.File); ok && !edit {
		if fi, err := file.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			edit = true
		}
	}
	if !edit {
		data, err := io.ReadAll(io.LimitReader(f.stdin, 64<<20))
		if err != nil {
			return "", err
		}
		return string(data) + draft, nil
	}
	editor := g.env.Getenv("VISUAL")
	if editor == "" {
		editor = g.env.Getenv("EDITOR")
	}
	if editor == "" {
		return "", errors.New("no $EDITOR set: set it, or pipe the message text into standard input")
	}
	tmp, err := os.CreateTemp("", "sealgate-draft-*.txt")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	tmp.WriteString(draft)
	tmp.Close()
	cmd := exec.Command("sh", "-c", editor+` "$1"`, "sh", tmp.Name())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("editor %q: %v", editor, err)
	}
	data, err := os.ReadFile(tmp.Name())
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(string(data)) == strings.TrimSpace(draft) {
		return "", errors.New("the message was left unchanged in the editor: not sent")
	}
	return string(data), nil
}

func readAttachments(paths []string) ([]usermsg.Attachment, error) {
	var out []usermsg.Attachment
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("attachment: %v", err)
		}
		ct := mime.TypeByExtension(filepath.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		out = append(out, usermsg.Attachment{Filename: filepath.Base(p), ContentType: ct, Data: data})
	}
	return out, nil
}

// submit builds d, sends it and keeps a copy in the Sent folder over IMAP (when an IMAP server
// is configured); it prints who it went to. A copy that cannot be kept fails the command with
// a line that says the message was sent, so that nobody sends it twice.
func submit(g *globals, cfg mailclient.Config, d usermsg.Draft) error {
	d.From = cfg.User
	rcpts, err := d.Recipients()
	if err != nil {
		return err
	}
	raw, err := d.Build()
	if err != nil {
		return err
	}
	if err := mailclient.Send(cfg, cfg.User, rcpts, raw); err != nil {
		return err
	}
	fmt.Fprintf(g.env.Stdout, "sent to %s\n", strings.Join(rcpts, ", "))
	if cfg.IMAP == "" {
		fmt.Fprintln(g.env.Stderr, "sealgate: no IMAP server given (--imap): no copy kept in Sent")
		return nil
	}
	mb, err := mailclient.Open(cfg)
	if err != nil {
		return fmt.Errorf("the message was sent, but no copy was kept in Sent: %v", err)
	}
	defer mb.Close()
	if _, err := mb.AppendSent(raw); err != nil {
		return fmt.Errorf("the message was sent, but no copy was kept in Sent: %v", err)
	}
	return nil
}

func mailSendCmd(g *globals, f *mailFlags) *cobra.Command {
	var to, cc, bcc, attach []string
	var subject string
	var edit bool
	c := &cobra.Command{
		Use:   "send --to ADDRESS [--cc ADDRESS] [--subject TEXT] [--attach FILE]",
		Short: "Send a message; the text comes from standard input, or $EDITOR on a terminal",
		Args:  exactArgs(0, "no arguments (use --to)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config(g, cmd)
			if err != nil {
				return err
			}
			atts, err := readAttachments(attach)
			if err != nil {
				return err
			}
			text, err := f.text(g, "", edit)
			if err != nil {
				return err
			}
			return submit(g, cfg, usermsg.Draft{To: to, Cc: cc, Bcc: bcc, Subject: subject, Text: text, Attachments: atts, Hostname: hostOf(cfg.User)})
		},
	}
	c.Flags().StringArrayVar(&to, "to", nil, "recipient (repeat for more)")
	c.Flags().StringArrayVar(&cc, "cc", nil, "copy recipient (repeat for more)")
	c.Flags().StringArrayVar(&bcc, "bcc", nil, "blind copy recipient (repeat for more)")
	c.Flags().StringVar(&subject, "subject", "", "subject")
	c.Flags().StringArrayVar(&attach, "attach", nil, "attach a file (repeat for more)")
	c.Flags().BoolVar(&edit, "edit", false, "write the text in $EDITOR")
	return c
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// mailboxCmd makes a command without arguments (what says what to use instead) that works
// on the IMAP mailbox (see withMailbox).
func (f *mailFlags) mailboxCmd(g *globals, use, short, what string, fn func(mb *mailclient.Mailbox) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(0, what),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.withMailbox(g, cmd, func(_ mailclient.Config, mb *mailclient.Mailbox) error { return fn(mb) })
		},
	}
}

func mailFoldersCmd(g *globals, f *mailFlags) *cobra.Command {
	return f.mailboxCmd(g, "folders", "List folders with message and unread counts", "no arguments",
		func(mb *mailclient.Mailbox) error {
			folders, err := mb.Folders()
			if err != nil {
				return err
			}
			for _, fo := range folders {
				fmt.Fprintf(g.env.Stdout, "%-20s %6d messages %6d unread\n", fo.Name, fo.Messages, fo.Unseen)
			}
			return nil
		})
}

func mailListCmd(g *globals, f *mailFlags) *cobra.Command {
	return f.mailboxCmd(g, "list", "List the messages of a folder (headers only: nothing is downloaded)", "no arguments (use --folder)",
		func(mb *mailclient.Mailbox) error {
			msgs, err := mb.List(f.folder)
			if err != nil {
				return err
			}
			if len(msgs) == 0 {
				fmt.Fprintf(g.env.Stdout, "No messages in %s.\n", f.folder)
			}
			for _, m := range msgs {
				mark := " "
				switch {
				case m.Flagged:
					mark = "!"
				case !m.Seen:
					mark = "N"
				}
				subject := m.Subject
				if subject == "" {
					subject = "(no subject)"
				}
				fmt.Fprintf(g.env.Stdout, "%s %3d  %-16s  %-28.28s  %s  (%s)\n", mark, m.Num, m.Date.Local().Format("2006-01-02 15:04"), m.From, subject, sizeText(m.Size))
			}
			return nil
		})
}

func sizeText(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	if n < 1<<20 {
		return fmt.Sprintf("%d KB", n/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

func messageNumber(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a message number (see mail list)", s)
	}
	return uint32(n), nil
}

// withMailbox runs fn connected to the IMAP server with the command's settings cfg, and logs
// out after.
func (f *mailFlags) withMailbox(g *globals, cmd *cobra.Command, fn func(cfg mailclient.Config, mb *mailclient.Mailbox) error) error {
	cfg, err := f.config(g, cmd)
	if err != nil {
		return err
	}
	mb, err := mailclient.Open(cfg)
	if err != nil {
		return err
	}
	defer mb.Close()
	return fn(cfg, mb)
}

// messageCmd makes a command on message N of the folder: fn gets the command's settings and
// the message, downloaded and parsed.
func (f *mailFlags) messageCmd(g *globals, use, short string, fn func(cfg mailclient.Config, m *usermsg.Message) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1, "one message number"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, m, err := f.message(g, cmd, args[0])
			if err != nil {
				return err
			}
			return fn(cfg, m)
		},
	}
}

// message reads the command's settings, then downloads and parses message arg of the folder.
func (f *mailFlags) message(g *globals, cmd *cobra.Command, arg string) (cfg mailclient.Config, m *usermsg.Message, err error) {
	n, err := messageNumber(arg)
	if err != nil {
		return cfg, nil, err
	}
	err = f.withMailbox(g, cmd, func(c mailclient.Config, mb *mailclient.Mailbox) error {
		cfg = c
		raw, err := mb.Fetch(f.folder, n)
		if err != nil {
			return err
		}
		if m, err = usermsg.Parse(strings.NewReader(string(raw))); m == nil {
			return fmt.Errorf("message %d cannot be read: %v", n, err)
		}
		return nil
	})
	return cfg, m, err
}

// answer sends d, a reply to or a forward of a message, with the user's text before what d
// quotes.
func (f *mailFlags) answer(g *globals, cfg mailclient.Config, d usermsg.Draft, edit bool) error {
	d.Hostname = hostOf(cfg.User)
	var err error
	if d.Text, err = f.text(g, d.Text, edit); err != nil {
		return err
	}
	return submit(g, cfg, d)
}

var stripTags = bluemonday.StrictPolicy()

func mailReadCmd(g *globals, f *mailFlags) *cobra.Command {
	return f.messageCmd(g, "read N", "Show message N of the folder, with its security result",
		func(_ mailclient.Config, m *usermsg.Message) error {
			w := g.env.Stdout
			fmt.Fprintf(w, "From:     %s\n", addrList(m.From))
			if len(m.To) > 0 {
				fmt.Fprintf(w, "To:       %s\n", addrList(m.To))
			}
			if len(m.Cc) > 0 {
				fmt.Fprintf(w, "Cc:       %s\n", addrList(m.Cc))
			}
			fmt.Fprintf(w, "Date:     %s\n", m.Date.Format("Mon, 2 Jan 2006 15:04:05 -0700"))
			fmt.Fprintf(w, "Subject:  %s\n", m.Subject)
			fmt.Fprintf(w, "Security: %s\n\n", m.Security.Summary())
			switch {
			case m.Text != "":
				fmt.Fprint(w, strings.ReplaceAll(m.Text, "\r\n", "\n"))
			case m.HTML != "":
				fmt.Fprintln(w, "[HTML message shown as text]")
				fmt.Fprintln(w, strings.TrimSpace(stripTags.Sanitize(m.HTML)))
			case m.Encrypted:
				fmt.Fprintln(w, "[The message is encrypted and the server did not decrypt it.]")
			}
			if len(m.Attachments) > 0 {
				fmt.Fprintln(w)
				for _, a := range m.Attachments {
					fmt.Fprintf(w, "[attachment %d: %s, %s, %s]\n", a.Index+1, a.Filename, a.ContentType, sizeText(int64(len(a.Data))))
				}
			}
			return nil
		})
}

func addrList(as []usermsg.Address) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}

func mailReplyCmd(g *globals, f *mailFlags) *cobra.Command {
	var all, edit bool
	c := f.messageCmd(g, "reply N", "Reply to message N; your text comes from standard input, or $EDITOR on a terminal",
		func(cfg mailclient.Config, m *usermsg.Message) error {
			return f.answer(g, cfg, usermsg.Reply(m, cfg.User, all), edit)
		})
	c.Flags().BoolVar(&all, "all", false, "reply to every recipient too")
	c.Flags().BoolVar(&edit, "edit", false, "write the text in $EDITOR")
	return c
}

func mailForwardCmd(g *globals, f *mailFlags) *cobra.Command {
	var to []string
	var edit bool
	c := f.messageCmd(g, "forward N --to ADDRESS", "Forward message N with its attachments; a note comes from standard input",
		func(cfg mailclient.Config, m *usermsg.Message) error {
			d := usermsg.Forward(m, cfg.User)
			d.To = to
			return f.answer(g, cfg, d, edit)
		})
	c.PreRunE = func(*cobra.Command, []string) error {
		if len(to) == 0 {
			return errors.New("forward: give --to ADDRESS")
		}
		return nil
	}
	c.Flags().StringArrayVar(&to, "to", nil, "recipient (repeat for more)")
	c.Flags().BoolVar(&edit, "edit", false, "write the note in $EDITOR")
	return c
}
