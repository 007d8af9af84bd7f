package store

import (
	"context"
	"net"

	"github.com/dcimd/dcimd/internal/netboot/httpboot"
)

// BootPlans says what a machine boots (httpboot.Plans). Until an
// operation (install, diagnostics) asks for something else, a known
// server boots from its local disk.
type BootPlans struct{ db *DB }

// BootPlans returns the plan reader.
func (d *DB) BootPlans() *BootPlans { return &BootPlans{db: d} }

// BootPlan finds the server with this MAC.
func (p *BootPlans) BootPlan(ctx context.Context, mac net.HardwareAddr) (httpboot.Plan, error) {
	var ids []int64
	if err := p.db.gorm.WithContext(ctx).Table("servers").Where("mac = ?", mac.String()).Limit(1).Pluck("id", &ids).Error; err != nil {
		return httpboot.Plan{}, err
	}
	if len(ids) == 0 {
		return httpboot.Plan{}, httpboot.ErrUnknownMachine
	}
	return httpboot.Plan{Template: "local", ServerID: ids[0]}, nil
}
