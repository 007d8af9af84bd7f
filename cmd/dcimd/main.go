// Command dcimd is a bare-metal datacenter manager with a DCImanager 6
// compatible API.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dcimd/dcimd/internal/app"
	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/lab"
)

func main() {
	syscall.Umask(0o027) // the database and key files are not for other users
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfgPath string
	load := func() (config.Config, error) { return config.Load(cfgPath, nil) }
	root := &cobra.Command{Use: "dcimd", Short: "bare-metal datacenter manager", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().StringVar(&cfgPath, "config", "", "YAML configuration file (see configs/dcimd.example.yaml)")
	root.SetOut(stdout)
	root.SetErr(stderr)

	root.AddCommand(&cobra.Command{Use: "serve", Short: "run the daemon", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return app.Serve(ctx, cfg, app.NewLogger(cfg, stderr), stdout)
		}})

	var labServers int
	labCmd := &cobra.Command{Use: "lab", Short: "run the daemon with a simulated datacenter (BMCs, PDUs, inventory)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			return lab.Run(ctx, cfg, app.NewLogger(cfg, stderr), stdout, lab.Options{Servers: labServers})
		}}
	labCmd.Flags().IntVar(&labServers, "servers", lab.DefaultServers, "number of simulated servers")
	root.AddCommand(labCmd)

	mig := &cobra.Command{Use: "migrate", Short: "apply database migrations", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			db, err := app.OpenDB(ctx, cfg, app.NewLogger(cfg, stderr), true)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, "database is up to date")
			return db.Close()
		}}
	mig.AddCommand(&cobra.Command{Use: "status", Short: "list migrations and whether each is applied", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			db, err := app.OpenDB(ctx, cfg, app.NewLogger(cfg, stderr), false)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := db.Status(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tMIGRATION\tSTATE\tAPPLIED AT")
			for _, s := range st {
				state, at := "pending", ""
				if s.Applied {
					state, at = "applied", s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Version, s.Source, state, at)
			}
			return tw.Flush()
		}})
	root.AddCommand(mig)

	user := &cobra.Command{Use: "user", Short: "manage users"}
	var email, password, role string
	uc := &cobra.Command{Use: "create", Short: "create a user", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			if password == "" {
				password = os.Getenv("DCIMD_USER_PASSWORD")
			}
			if email == "" || password == "" {
				return errors.New("user create: --email and --password (or DCIMD_USER_PASSWORD) are required")
			}
			if role = strings.TrimSpace(role); !strings.HasPrefix(role, "@") {
				role = "@" + role // "admin" is @admin; say so in the confirmation too
			}
			id, err := app.CreateUser(ctx, cfg, app.NewLogger(cfg, stderr), email, password, role)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user %d created: %s (%s)\n", id, email, role)
			return nil
		}}
	uc.Flags().StringVar(&email, "email", "", "login email")
	uc.Flags().StringVar(&password, "password", "", "password (at least 8 characters)")
	uc.Flags().StringVar(&role, "role", "@user", "@admin or @user")
	user.AddCommand(uc)
	root.AddCommand(user)

	root.AddCommand(&cobra.Command{Use: "version", Short: "print the version", Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) { fmt.Fprintln(stdout, "dcimd", app.Version) }})

	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "dcimd:", app.ErrorText(err))
		return 1
	}
	return 0
}
