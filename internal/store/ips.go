package store

import (
	"context"

	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/server"
)

// IPs reads addresses for the address lists.
type IPs struct{ db *DB }

// IPs returns the address reader.
func (d *DB) IPs() *IPs { return &IPs{db: d} }

var ipFields = listq.Fields{"id": fInt("i.id"), "name": fStr("i.name"), "ip_addr": fStr("i.name"), "family": fInt("i.family"),
	"domain": fStr("i.domain"), "status": fStr("i.status"), "server": fInt("i.server_id"), "server_id": fInt("i.server_id"),
	"ipnet": fInt("i.ipnet_id"), "ipnet_id": fInt("i.ipnet_id"), "ipnet_name": fStr("n.name"), "network": fStr("n.name"),
	"gateway": fStr("n.gateway"), "userspace": fInt("i.userspace"), "note": fStr("i.note"), "created_at": fTime("i.created_at"),
	"reserved": fBool("i.reserved"), "permanent": fBool("i.permanent")}

type ipListRow struct {
	IP         ipViewRow `gorm:"embedded"`
	ServerName *string   `gorm:"column:server_name"`
}

// ListIPs lists addresses; a scoped caller sees only its servers' ones.
func (r *IPs) ListIPs(ctx context.Context, scope server.Scope, q listq.Query) ([]server.IP, int, error) {
	base := r.db.gorm.WithContext(ctx).Table("ips AS i").Joins("JOIN ipnets n ON n.id = i.ipnet_id").
		Joins("LEFT JOIN servers s ON s.id = i.server_id")
	if scope.OwnerID != nil {
		base = base.Where("s.owner_id = ?", *scope.OwnerID)
	}
	var rows []ipListRow
	n, err := r.db.list(base, `i.id, i.name, i.family, i.domain, i.status, i.status_info, i.server_id, i.ipnet_id,
		n.gateway AS gateway, n.name AS network, s.name AS server_name,
		i.note, i.reserved, i.permanent`, ipFields, q, "i.id", &rows)
	if err != nil {
		return nil, 0, err
	}
	out := make([]server.IP, len(rows))
	for i, x := range rows {
		ip := server.IP{ID: x.IP.ID, Name: x.IP.Name, Family: x.IP.Family, Domain: x.IP.Domain, Status: x.IP.Status,
			Gateway: x.IP.Gateway, Network: x.IP.Network, IPNetID: x.IP.IPNetID, ServerName: deref(x.ServerName),
			StatusInfo: map[string]any{}, Note: x.IP.Note, Reserved: x.IP.Reserved, Permanent: x.IP.Permanent}
		ip.ServerID = x.IP.ServerID
		if err := fromJSONText(x.IP.StatusInfo, &ip.StatusInfo); err != nil {
			return nil, 0, err
		}
		out[i] = ip
	}
	return out, n, nil
}
